"""The audit trail: database triggers record every change with its context, and nobody can rewrite it."""

import datetime as dt
import json

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from config.audit import context
from config.audit.models import (
    AcknowledgementEvent,
    ApiKeyEvent,
    ExceptionCaseEvent,
    PurchaseOrderEvent,
    PurchaseOrderLineEvent,
    ScheduleLineEvent,
    ShipmentNoticeEvent,
    SupplierMembershipEvent,
)
from exceptions.models import CaseStatus
from exceptions.tasks import wake_snoozed_cases
from purchasing.documents.intake import document_receive
from purchasing.models import InboundDocument, LineStatus, PurchaseOrderLine, ScheduleLine
from suppliers.models import ApiKey, SupplierMembership
from suppliers.services import api_key_create, api_key_revoke
from tests.celery_worker import wait_for
from tests.factories import ExceptionCaseFactory, UserFactory
from tests.purchasing.documents.test_intake import fixture

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("portal_defaults")]


def test_a_bulk_update_of_po_lines_is_recorded_row_by_row_with_its_context(po):
    with context.opened(channel=context.Channel.COMMAND, command="close_lines"):
        changed = PurchaseOrderLine.objects.filter(po=po).update(status=LineStatus.CANCELLED)
    assert changed == 2
    events = PurchaseOrderLineEvent.objects.filter(pgh_label="update").order_by("line_number")
    assert [(e.line_number, e.status) for e in events] == [(10, "cancelled"), (20, "cancelled")]
    assert {e.pgh_obj_id for e in events} == set(po.lines.values_list("pk", flat=True))
    assert all(e.pgh_context == {"channel": "command", "command": "close_lines"} for e in events)
    # One unit of work, one context id across its rows.
    assert len({e.pgh_context_id for e in events}) == 1


def test_inserts_and_deletes_are_recorded_too(po):
    line = po.lines.get(line_number=20)
    assert ScheduleLineEvent.objects.filter(line_id=line.pk, pgh_label="insert").count() == 2
    ScheduleLine.objects.filter(line=line, schedule_number=2).delete()
    deleted = ScheduleLineEvent.objects.get(pgh_label="delete")
    assert (deleted.schedule_number, str(deleted.quantity)) == (2, "20.000")


def test_a_save_that_changes_only_the_timestamp_records_nothing(po):
    before = PurchaseOrderEvent.objects.count()
    po.save(update_fields=["updated_at"])
    assert PurchaseOrderEvent.objects.count() == before


def test_a_web_change_records_the_user_ip_and_request_id(po, alice_client, supplier_user):
    response = alice_client.post(
        reverse("purchasing:po-accept-all", args=[po.number]),
        {"version": po.version},
        headers={"X-Request-ID": "req-web-42"},
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 302
    assert response["X-Request-ID"] == "req-web-42"
    event = PurchaseOrderEvent.objects.filter(pgh_label="update").latest("pgh_id")
    assert event.status == "acknowledged"
    assert event.pgh_context == {
        "channel": "web",
        "user": supplier_user.pk,
        "email": "alice@example.com",
        "ip": "203.0.113.7",
        "request_id": "req-web-42",
        "path": f"/pos/{po.number}/accept-all/",
    }
    acknowledgement = AcknowledgementEvent.objects.get()
    assert acknowledgement.pgh_context["request_id"] == "req-web-42"


def test_an_api_change_records_the_key_and_its_supplier(po, supplier):
    api_key, secret = api_key_create(
        supplier=supplier, name="erp", scopes=["orders:read", "orders:acknowledge"], by=None, expires_at=None
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = client.post(
        f"/api/v1/purchase-orders/{po.number}/acknowledgements/",
        {"lines": [{"line_number": 10, "action": "accept"}, {"line_number": 20, "action": "accept"}]},
        format="json",
        HTTP_X_REQUEST_ID="erp-batch-7:1",
        REMOTE_ADDR="198.51.100.4",
    )
    assert response.status_code == 201, response.content
    event = PurchaseOrderEvent.objects.filter(pgh_label="update").latest("pgh_id")
    assert event.pgh_context == {
        "channel": "api",
        "user": None,
        "email": None,
        "api_key": api_key.prefix,
        "supplier": "ACME",
        "ip": "198.51.100.4",
        "request_id": "erp-batch-7:1",
        "path": f"/api/v1/purchase-orders/{po.number}/acknowledgements/",
    }
    # Authentication stamps last_used_at: not a change anyone made, so not an event.
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is not None
    assert list(ApiKeyEvent.objects.values_list("pgh_label", flat=True)) == ["insert"]


def test_the_key_hash_never_enters_the_trail(supplier, buyer):
    api_key, _ = api_key_create(supplier=supplier, name="erp", scopes=["orders:read"], by=buyer, expires_at=None)
    api_key_revoke(key=api_key, by=buyer)
    assert not any(f.name == "secret_hash" for f in ApiKeyEvent._meta.fields)
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(e)::text FROM audit_apikeyevent e")
        rows = [row[0] for row in cursor.fetchall()]
    assert [json.loads(row)["pgh_label"] for row in rows] == ["insert", "update"]
    assert all(api_key.secret_hash not in row for row in rows)


def test_membership_changes_are_recorded(supplier_user):
    membership = SupplierMembership.objects.get(user=supplier_user)
    with context.opened(channel=context.Channel.ADMIN, user=1, email="admin@example.com"):
        SupplierMembership.objects.filter(pk=membership.pk).update(role=SupplierMembership.Role.VIEWER)
    event = SupplierMembershipEvent.objects.get(pgh_label="update")
    assert (event.role, event.pgh_context["channel"]) == ("viewer", "admin")


REWRITES = {
    "update": lambda rows: rows.update(status=LineStatus.ISSUED),
    "delete": lambda rows: rows.delete(),
}


@pytest.mark.parametrize("change", REWRITES)
def test_an_audit_row_cannot_be_changed_or_deleted(po, change):
    PurchaseOrderLine.objects.filter(po=po).update(status=LineStatus.CANCELLED)
    event = PurchaseOrderLineEvent.objects.filter(pgh_label="update").first()
    assert event is not None
    rows = PurchaseOrderLineEvent.objects.filter(pk=event.pk)
    with pytest.raises(DatabaseError, match="Cannot update or delete rows"), transaction.atomic():
        REWRITES[change](rows)
    assert PurchaseOrderLineEvent.objects.get(pk=event.pk).status == "cancelled"


def test_raw_sql_cannot_rewrite_the_trail_either(po):
    with (
        pytest.raises(DatabaseError, match="Cannot update or delete rows"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM audit_purchaseorderevent")
    assert PurchaseOrderEvent.objects.exists()


def test_a_feed_document_is_recorded_under_the_feed_and_the_rest_of_the_work_keeps_its_channel(po):
    with context.opened(channel=context.Channel.TASK, task="planning_sync.tasks.import_feeds"):
        with context.feed("purchase-orders", connector="erp"):
            PurchaseOrderLine.objects.filter(po=po, line_number=10).update(status=LineStatus.CANCELLED)
        PurchaseOrderLine.objects.filter(po=po, line_number=20).update(status=LineStatus.CANCELLED)
    first, second = PurchaseOrderLineEvent.objects.filter(pgh_label="update").order_by("pgh_id")
    assert first.pgh_context == {
        "channel": "feed",
        "task": "planning_sync.tasks.import_feeds",
        "feed": "purchase-orders",
        "connector": "erp",
    }
    assert second.pgh_context == {"channel": "task", "task": "planning_sync.tasks.import_feeds"}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_celery_task_change_records_the_task(worker):
    case = ExceptionCaseFactory.create(
        status=CaseStatus.SNOOZED, snoozed_until=timezone.now() - dt.timedelta(minutes=1), assignee=None
    )
    wake_snoozed_cases.delay()
    assert wait_for(lambda: ExceptionCaseEvent.objects.filter(pgh_obj_id=case.pk, pgh_label="update").exists())
    event = ExceptionCaseEvent.objects.get(pgh_obj_id=case.pk, pgh_label="update")
    assert event.status == CaseStatus.OPEN
    assert event.pgh_context["channel"] == "task"
    assert event.pgh_context["task"] == "exceptions.tasks.wake_snoozed_cases"
    assert event.pgh_context["task_id"]


def test_an_admin_change_records_the_admin_channel_and_the_staff_user(supplier, client):
    staff = UserFactory.create(email="root@example.com", is_staff=True, is_superuser=True)
    client.force_login(staff)
    api_key, _ = api_key_create(supplier=supplier, name="erp", scopes=["orders:read"], by=None, expires_at=None)
    response = client.post(
        reverse("admin:suppliers_apikey_changelist"),
        {"action": "revoke", "_selected_action": [api_key.pk]},
        REMOTE_ADDR="192.0.2.10",
    )
    assert response.status_code == 302
    event = ApiKeyEvent.objects.get(pgh_label="update")
    assert event.revoked_at is not None
    assert (event.pgh_context["channel"], event.pgh_context["email"]) == ("admin", "root@example.com")
    assert event.pgh_context["ip"] == "192.0.2.10"
    # The admin's key page links to the key's history.
    page = client.get(reverse("admin:suppliers_apikey_change", args=[api_key.pk])).content.decode()
    assert reverse("audit:api-key-history", args=[api_key.pk]) in page


def test_a_document_records_its_id_and_the_work_around_it_keeps_its_channel(supplier, shippable_po, supplier_user):
    with context.opened(channel=context.Channel.WEB, user=supplier_user.pk, email=supplier_user.email):
        document = document_receive(
            supplier=supplier,
            content=fixture("ship_notice.csv"),
            filename="asn.csv",
            source="upload",
            by=supplier_user,
            kind="ship_notice",
        )
        PurchaseOrderLine.objects.filter(po=shippable_po, line_number=10).update(need_by_date=dt.date(2030, 1, 1))
    assert document.status == InboundDocument.Status.ACCEPTED, document.errors
    notice = ShipmentNoticeEvent.objects.get(pgh_label="insert")
    assert notice.pgh_context == {
        "channel": "document",
        "document": document.pk,
        "user": supplier_user.pk,
        "email": "alice@example.com",
    }
    after = PurchaseOrderLineEvent.objects.filter(pgh_label="update").latest("pgh_id")
    assert after.pgh_context == {"channel": "web", "user": supplier_user.pk, "email": "alice@example.com"}
