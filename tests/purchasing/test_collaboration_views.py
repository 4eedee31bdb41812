"""The supplier inbox, acknowledgement pages and the buyer's review and change-order pages."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from planning_sync.models import OutboxEvent
from purchasing import services
from purchasing.models import (
    Acknowledgement,
    AcknowledgementLine,
    HistoryEntry,
    LineStatus,
    POStatus,
    PurchaseOrder,
)
from purchasing.services import LineDecision
from suppliers.models import NotificationKind, NotificationOptOut, SupplierMembership
from tests.factories import (
    ItemFactory,
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    SupplierItemFactory,
    SupplierMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
LIST = reverse("purchasing:po-list")
FUTURE = timezone.localdate() + dt.timedelta(days=30)


def _ack_url(po):
    return reverse("purchasing:po-acknowledge", args=[po.number])


def _answer(po, **lines):
    """POST data for the acknowledgement form: lines={10: {"action": "accept"}, ...}."""
    data = {"version": po.version, "note": ""}
    for number, fields in lines.items():
        for name, value in fields.items():
            data[f"line-{number[1:]}-{name}"] = value
    return data


@pytest.fixture
def open_po(supplier):
    """An unanswered ACME PO: line 10 (100 at 12.50), line 20 (60 at 12.50), line 30 (10 at 5), need-by in 30 days."""
    po = PurchaseOrderFactory(supplier=supplier, number="PO-200001")
    for number, quantity, price in ((10, 100, "12.5"), (20, 60, "12.5"), (30, 10, "5")):
        PurchaseOrderLineFactory(
            po=po, line_number=number, ordered_quantity=quantity, unit_price=Decimal(price), need_by_date=FUTURE
        )
    return po


# --- inbox ------------------------------------------------------------------------


def test_tabs_count_each_queue(alice_client, supplier):
    PurchaseOrderFactory(supplier=supplier)
    PurchaseOrderFactory(supplier=supplier, status=POStatus.REVISED, revision=2)
    PurchaseOrderFactory(supplier=supplier, acknowledgement_due=timezone.now() - dt.timedelta(hours=1))
    PurchaseOrderFactory(supplier=supplier, status=POStatus.CHANGES_PENDING)
    PurchaseOrderFactory(supplier=supplier, status=POStatus.CLOSED)
    tabs = {key: count for key, _, count in alice_client.get(LIST).context["tabs"]}
    assert tabs == {"": 5, "awaiting": 3, "new": 2, "changed": 1, "overdue": 1, "pending": 1, "open": 4}


def test_tab_counts_follow_the_other_filters(alice_client, supplier):
    PurchaseOrderFactory(supplier=supplier, number="PO-1")
    PurchaseOrderFactory(supplier=supplier, number="PO-2", status=POStatus.REVISED)
    tabs = {key: count for key, _, count in alice_client.get(LIST, {"q": "PO-2"}).context["tabs"]}
    assert tabs["new"] == 0
    assert tabs["changed"] == 1


def test_each_tab_lists_its_queue(alice_client, supplier):
    revised = PurchaseOrderFactory(supplier=supplier, status=POStatus.REVISED, revision=2)
    PurchaseOrderFactory(supplier=supplier)
    response = alice_client.get(LIST, {"tab": "changed"})
    assert [po.number for po in response.context["page"].items] == [revised.number]


def test_search_finds_a_po_by_item_sku_or_supplier_part_number(alice_client, supplier, other_supplier):
    item = ItemFactory(sku="BOLT-M8")
    SupplierItemFactory(supplier=supplier, item=item, supplier_part_number="AC-778")
    SupplierItemFactory(supplier=other_supplier, item=ItemFactory(), supplier_part_number="ZZ-1")
    wanted = PurchaseOrderFactory(supplier=supplier)
    PurchaseOrderLineFactory(po=wanted, line_number=10, item=item)
    PurchaseOrderLineFactory(po=PurchaseOrderFactory(supplier=supplier), line_number=10)
    for query in ("bolt-m8", "AC-778"):
        assert [po.number for po in alice_client.get(LIST, {"q": query}).context["page"].items] == [wanted.number]
    assert alice_client.get(LIST, {"q": "ZZ-1"}).context["page"].items == []


@pytest.mark.parametrize(
    ("sort", "attribute"), [("due", "acknowledgement_due"), ("number", "number"), ("oldest", "order_date")]
)
def test_the_list_sorts_and_pages_in_that_order(alice_client, supplier, settings, sort, attribute):
    settings.SUPPLYLINE_PAGE_SIZE = 2
    now = timezone.now()
    for n in range(5):
        PurchaseOrderFactory(
            supplier=supplier,
            number=f"PO-9{n}",
            order_date=dt.date(2026, 1, 1) + dt.timedelta(days=(n * 3) % 5),
            acknowledgement_due=now + dt.timedelta(hours=(n * 7) % 5),
        )
    seen, params = [], {"sort": sort}
    while True:
        response = alice_client.get(LIST, params)
        seen += response.context["page"].items
        if not response.context["page"].next_cursor:
            break
        params = {"sort": sort, "after": response.context["page"].next_cursor}
    assert len(seen) == 5
    keys = [getattr(po, attribute) for po in seen]
    assert keys == sorted(keys)


def test_the_export_is_a_csv_of_every_filtered_po(alice_client, supplier, settings):
    settings.SUPPLYLINE_PAGE_SIZE = 2
    for n in range(3):
        PurchaseOrderLineFactory(po=PurchaseOrderFactory(supplier=supplier, number=f"PO-77{n}"), line_number=10)
    PurchaseOrderFactory(supplier=supplier, number="PO-880", status=POStatus.CLOSED)
    response = alice_client.get(reverse("purchasing:po-export"), {"tab": "open"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:2] == ["PO number", "Revision"]
    assert sorted(r[0] for r in rows[1:]) == ["PO-770", "PO-771", "PO-772"]
    assert rows[1][9] == "1"


def test_the_export_defuses_spreadsheet_formulas(alice_client, supplier):
    supplier.name = "=HYPERLINK(evil)"
    supplier.save(update_fields=["name"])
    PurchaseOrderFactory(supplier=supplier)
    body = b"".join(alice_client.get(reverse("purchasing:po-export")).streaming_content).decode()
    assert "'=HYPERLINK(evil)" in body


def test_the_export_refuses_invalid_filters(alice_client):
    response = alice_client.get(reverse("purchasing:po-export"), {"status": "lost"})
    assert response.status_code == 400
    assert b"status" in response.content


def test_the_inbox_of_20000_pos_runs_the_same_queries_as_of_20(alice_client, supplier, settings):
    settings.SUPPLYLINE_PAGE_SIZE = 20
    template = PurchaseOrderFactory.build(
        supplier=supplier, buyer=supplier.buyer, site=PurchaseOrderFactory(supplier=supplier).site
    )

    def make(count: int, start: int) -> None:
        PurchaseOrder.objects.bulk_create(
            PurchaseOrder(
                number=f"PO-B{start + n}",
                erp_id=f"ERP-B{start + n}",
                supplier=supplier,
                buyer=template.buyer,
                site=template.site,
                order_date=template.order_date - dt.timedelta(days=n % 400),
                acknowledgement_due=template.acknowledgement_due,
            )
            for n in range(count)
        )

    make(19, 0)
    with CaptureQueriesContext(connection) as small:
        alice_client.get(LIST, {"tab": "awaiting", "sort": "due"})
    make(19_980, 100)
    with CaptureQueriesContext(connection) as large:
        response = alice_client.get(LIST, {"tab": "awaiting", "sort": "due"})
    assert len(response.context["page"].items) == 20
    assert {k: c for k, _, c in response.context["tabs"]}["awaiting"] == 20_000
    assert len(small) == len(large)


# --- detail and acknowledgement ------------------------------------------------------


def test_the_detail_tells_the_supplier_what_to_do(alice_client, open_po):
    body = alice_client.get(reverse("purchasing:po-detail", args=[open_po.number])).content.decode()
    assert "Accept all lines as ordered" in body
    assert "Answer line by line" in body


def test_a_viewer_sees_the_po_but_cannot_acknowledge_it(client, supplier, open_po):
    viewer = UserFactory()
    SupplierMembershipFactory(user=viewer, supplier=supplier, role=SupplierMembership.Role.VIEWER)
    client.force_login(viewer)
    assert b"but not acknowledge it" in client.get(reverse("purchasing:po-detail", args=[open_po.number])).content
    assert client.get(_ack_url(open_po)).status_code == 403
    assert client.post(reverse("purchasing:po-accept-all", args=[open_po.number]), {"version": 1}).status_code == 403
    assert not Acknowledgement.objects.exists()


def test_a_buyer_cannot_acknowledge_for_the_supplier(buyer_client, open_po):
    assert buyer_client.get(_ack_url(open_po)).status_code == 404


def test_accept_all_applies_every_line_in_one_click(alice_client, open_po):
    response = alice_client.post(
        reverse("purchasing:po-accept-all", args=[open_po.number]), {"version": open_po.version}, follow=True
    )
    assert b"3 lines applied" in response.content
    open_po.refresh_from_db()
    assert open_po.status == POStatus.ACKNOWLEDGED
    assert set(open_po.lines.values_list("status", flat=True)) == {LineStatus.ACKNOWLEDGED}
    assert OutboxEvent.objects.filter(type="supplyline.po.acknowledged.v1", subject=open_po.number).count() == 1


def test_the_form_answers_line_by_line(alice_client, open_po):
    later = FUTURE + dt.timedelta(days=1)
    data = _answer(
        open_po,
        l10={"action": "accept"},
        l20={
            "action": "change",
            "quantity": "60",
            "unit_price": "12.5",
            "delivery_0_quantity": "40",
            "delivery_0_date": FUTURE.isoformat(),
            "delivery_1_quantity": "20",
            "delivery_1_date": later.isoformat(),
        },
        l30={"action": "reject", "reason_code": "OUT_OF_STOCK", "note": "Back in March"},
    )
    response = alice_client.post(_ack_url(open_po), data)
    assert response.status_code == 302
    open_po.refresh_from_db()
    assert open_po.status == POStatus.CHANGES_PENDING
    line20 = open_po.lines.get(line_number=20)
    assert line20.status == LineStatus.ACKNOWLEDGED
    assert [(s.quantity, s.promised_date) for s in line20.schedule_lines.order_by("schedule_number")] == [
        (Decimal(40), FUTURE),
        (Decimal(20), later),
    ]
    rejected = AcknowledgementLine.objects.get(line__line_number=30)
    assert rejected.outcome == AcknowledgementLine.Outcome.PENDING
    assert rejected.note == "Back in March"


def test_a_changed_quantity_carries_its_single_delivery_along(alice_client, open_po):
    data = _answer(
        open_po,
        l10={
            "action": "change",
            "quantity": "102",
            "unit_price": "12.5",
            "delivery_0_quantity": "100",
            "delivery_0_date": FUTURE.isoformat(),
        },
        l20={"action": "accept"},
        l30={"action": "accept"},
    )
    assert alice_client.post(_ack_url(open_po), data).status_code == 302
    line = open_po.lines.get(line_number=10)
    assert line.ordered_quantity == 102
    assert line.schedule_lines.get().quantity == 102


def test_bad_answers_get_a_message_per_field_and_change_nothing(alice_client, open_po):
    past = timezone.localdate() - dt.timedelta(days=1)
    data = _answer(
        open_po,
        l10={
            "action": "change",
            "quantity": "100",
            "unit_price": "-1",
            "delivery_0_quantity": "100",
            "delivery_0_date": past.isoformat(),
        },
        l20={
            "action": "change",
            "quantity": "60",
            "unit_price": "12.5",
            "delivery_0_quantity": "50",
            "delivery_0_date": FUTURE.isoformat(),
            "delivery_1_quantity": "5",
            "delivery_1_date": FUTURE.isoformat(),
        },
        l30={"action": "reject", "reason_code": "OUT_OF_STOCK"},
    )
    response = alice_client.post(_ack_url(open_po), data)
    assert response.status_code == 400
    forms = {f.line.line_number: f for f in response.context["forms"]}
    assert forms[10].errors["unit_price"] == ["The unit price cannot be negative."]
    assert f"The promised date {past.isoformat()} is in the past." in str(forms[10].errors)
    assert "The deliveries add up to 55 but the line quantity is 60." in str(forms[20].errors)
    assert not Acknowledgement.objects.exists()
    open_po.refresh_from_db()
    assert open_po.version == 1
    assert open_po.status == POStatus.ISSUED


def test_service_errors_land_on_their_line(alice_client, open_po):
    data = _answer(
        open_po,
        l10={"action": "accept"},
        l20={
            "action": "change",
            "quantity": "60",
            "unit_price": "12.5",
            "delivery_0_quantity": "50",
            "delivery_0_date": FUTURE.isoformat(),
            "delivery_1_quantity": "5",
            "delivery_1_date": FUTURE.isoformat(),
        },
        l30={"action": "accept"},
    )
    response = alice_client.post(_ack_url(open_po), data)
    assert response.status_code == 400
    forms = {f.line.line_number: f for f in response.context["forms"]}
    assert "The deliveries add up to 55 but the line quantity is 60." in str(forms[20].errors)
    assert not forms[10].errors
    assert not Acknowledgement.objects.exists()


def test_a_reject_without_reason_is_refused_by_the_form(alice_client, open_po):
    data = _answer(open_po, l10={"action": "accept"}, l20={"action": "accept"}, l30={"action": "reject"})
    response = alice_client.post(_ack_url(open_po), data)
    assert response.status_code == 400
    assert "Choose a reason for rejecting the line." in response.content.decode()
    assert not Acknowledgement.objects.exists()


def test_a_missing_answer_is_named(alice_client, open_po):
    response = alice_client.post(
        _ack_url(open_po), _answer(open_po, l10={"action": "accept"}, l20={"action": "accept"})
    )
    assert response.status_code == 400
    assert "Choose accept, reject or change for this line." in response.content.decode()


def test_a_stale_page_is_refused_with_a_conflict_and_nothing_applied(alice_client, open_po, supplier_user):
    stale_version = open_po.version
    services.acknowledgement_accept_all(po=open_po, by=supplier_user, channel="api", expected_version=None)
    services.change_order_issue(
        po=open_po,
        by=None,
        expected_version=None,
        changes=[services.LineChange(10, quantity=Decimal(90))],
        channel="erp",
    )
    data = _answer(open_po, l10={"action": "accept"})
    data["version"] = stale_version
    response = alice_client.post(_ack_url(open_po), data)
    assert response.status_code == 409
    assert "changed by someone else" in response.content.decode()
    assert Acknowledgement.objects.count() == 1


def test_a_po_awaiting_no_answer_sends_the_supplier_back_to_it(alice_client, open_po, supplier_user):
    services.acknowledgement_accept_all(po=open_po, by=supplier_user, channel="web", expected_version=None)
    response = alice_client.get(_ack_url(open_po))
    assert response.status_code == 302
    assert response["Location"] == reverse("purchasing:po-detail", args=[open_po.number])


def test_history_from_the_erp_and_the_system_has_no_person(alice_client, open_po):
    HistoryEntry.objects.create(po=open_po, channel="erp", action="issued", summary="Issued from the ERP.")
    HistoryEntry.objects.create(po=open_po, channel="system", action="overdue", summary="Acknowledgement is overdue.")
    response = alice_client.get(reverse("purchasing:po-detail", args=[open_po.number]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Issued from the ERP." in body
    assert "ERP · via ERP" in body
    assert "Supplyline · via Supplyline" in body


def test_the_history_shows_who_did_what_through_which_channel(alice_client, open_po, supplier_user):
    services.acknowledgement_accept_all(po=open_po, by=supplier_user, channel="api", expected_version=None)
    body = alice_client.get(reverse("purchasing:po-detail", args=[open_po.number])).content.decode()
    assert "Acknowledged revision 1: 3 of 3 lines applied" in body
    assert "via API" in body
    assert supplier_user.get_full_name() in body


# --- buyer: proposals and change orders --------------------------------------------


@pytest.fixture
def proposal(open_po, supplier_user):
    """Line 10 proposed at a price 20% higher (outside the 2% tolerance); the others accepted."""
    services.acknowledgement_submit(
        po=open_po,
        by=supplier_user,
        decisions=[
            LineDecision(10, "change", unit_price=Decimal(15)),
            LineDecision(20, "accept"),
            LineDecision(30, "accept"),
        ],
        channel="web",
        expected_version=None,
    )
    return AcknowledgementLine.objects.get(line__line_number=10, line__po=open_po)


def test_the_queue_shows_proposals_of_the_buyers_suppliers(buyer_client, proposal):
    response = buyer_client.get(reverse("purchasing:proposal-list"))
    assert [a.pk for a in response.context["page"].items] == [proposal.pk]
    body = response.content.decode()
    assert "Unit price 15 is 20% above 12.5 (tolerance 2%)." in body


def test_the_queue_defaults_to_the_buyers_own_suppliers(client, proposal):
    other_buyer = UserFactory(is_staff=True)
    from django.contrib.auth.models import Group

    other_buyer.groups.add(Group.objects.get(name="buyers"))
    client.force_login(other_buyer)
    assert client.get(reverse("purchasing:proposal-list")).context["page"].items == []
    assert len(client.get(reverse("purchasing:proposal-list"), {"scope": "all"}).context["page"].items) == 1


def test_a_purchasing_manager_sees_every_supplier_by_default(client, proposal):
    from django.contrib.auth.models import Group

    manager = UserFactory(is_staff=True)
    manager.groups.add(Group.objects.get(name="buyers"), Group.objects.get(name="purchasing managers"))
    client.force_login(manager)
    response = client.get(reverse("purchasing:proposal-list"))
    assert response.context["scope"] == "all"
    assert [a.pk for a in response.context["page"].items] == [proposal.pk]


def test_a_supplier_cannot_open_the_queue_or_decide(alice_client, proposal):
    assert alice_client.get(reverse("purchasing:proposal-list")).status_code == 404
    url = reverse("purchasing:proposal-decide", args=[proposal.pk])
    assert alice_client.post(url, {"decision": "approve"}).status_code == 404
    proposal.refresh_from_db()
    assert proposal.outcome == AcknowledgementLine.Outcome.PENDING


def test_the_buyer_approves_inline_with_htmx(buyer_client, proposal):
    url = reverse("purchasing:proposal-decide", args=[proposal.pk])
    response = buyer_client.post(url, {"decision": "approve"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"<html" not in response.content
    assert b"Approved by buyer" in response.content
    line = proposal.line
    line.refresh_from_db()
    assert line.unit_price == 15
    assert line.po.status == POStatus.ACKNOWLEDGED


def test_declining_without_a_reason_is_refused(buyer_client, proposal):
    url = reverse("purchasing:proposal-decide", args=[proposal.pk])
    response = buyer_client.post(url, {"decision": "decline"}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert b"Say why you decline" in response.content
    proposal.refresh_from_db()
    assert proposal.outcome == AcknowledgementLine.Outcome.PENDING


def test_declining_sends_the_line_back_to_the_supplier(buyer_client, proposal):
    url = reverse("purchasing:proposal-decide", args=[proposal.pk])
    response = buyer_client.post(url, {"decision": "decline", "reason": "Contract price", "next": "/pos/"})
    assert response.status_code == 302
    assert response["Location"] == "/pos/"
    proposal.line.refresh_from_db()
    assert proposal.line.status == LineStatus.ISSUED
    assert proposal.line.unit_price == Decimal("12.5")


def test_the_decision_never_redirects_off_site(buyer_client, proposal):
    url = reverse("purchasing:proposal-decide", args=[proposal.pk])
    response = buyer_client.post(url, {"decision": "approve", "next": "https://evil.example/"})
    assert response["Location"] == reverse("purchasing:proposal-list")


def _change_order_data(po) -> dict[str, object]:
    """The change-order form as rendered: every open line with its current values."""
    data: dict[str, object] = {"version": po.version}
    for line in po.lines.all():
        prefix = f"line-{line.line_number}"
        data |= {
            f"{prefix}-quantity": str(line.ordered_quantity),
            f"{prefix}-unit_price": str(line.unit_price),
            f"{prefix}-need_by_date": line.need_by_date.isoformat(),
        }
    return data


def test_a_change_order_asks_for_re_acknowledgement_and_shows_a_diff(
    buyer_client, alice_client, open_po, supplier_user
):
    services.acknowledgement_accept_all(po=open_po, by=supplier_user, channel="web", expected_version=None)
    open_po.refresh_from_db()
    url = reverse("purchasing:po-change-order", args=[open_po.number])
    assert buyer_client.get(url).status_code == 200
    data = _change_order_data(open_po)
    data["line-10-quantity"] = "120"
    data["line-30-cancel"] = "on"
    item = ItemFactory(sku="NEW-1")
    data |= {
        "new-0-item_sku": item.sku,
        "new-0-quantity": "5",
        "new-0-unit_price": "3",
        "new-0-need_by_date": FUTURE.isoformat(),
    }
    response = buyer_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    open_po.refresh_from_db()
    assert (open_po.revision, open_po.status) == (2, POStatus.REVISED)
    assert open_po.lines.get(line_number=10).revision_changes == {"quantity": ["100", "120"]}
    assert open_po.lines.get(line_number=30).status == LineStatus.CANCELLED
    assert open_po.lines.get(line_number=40).item == item
    detail = alice_client.get(reverse("purchasing:po-detail", args=[open_po.number])).content.decode()
    assert 'class="diff-old">100</span>' in detail
    assert "New line" in detail


def test_a_change_order_with_bad_values_says_where(buyer_client, open_po):
    url = reverse("purchasing:po-change-order", args=[open_po.number])
    data = _change_order_data(open_po)
    data["line-20-unit_price"] = "-4"
    data |= {
        "new-0-item_sku": "NOPE",
        "new-0-quantity": "1",
        "new-0-unit_price": "1",
        "new-0-need_by_date": FUTURE.isoformat(),
    }
    response = buyer_client.post(url, data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "The unit price cannot be negative." in body
    assert "There is no item with SKU &#x27;NOPE&#x27;." in body
    open_po.refresh_from_db()
    assert open_po.revision == 1


def test_a_change_order_page_is_for_buyers(alice_client, open_po):
    assert alice_client.get(reverse("purchasing:po-change-order", args=[open_po.number])).status_code == 404


# --- e-mail settings --------------------------------------------------------------------


def test_a_user_opts_out_of_a_kind_of_email(alice_client, supplier_user):
    url = reverse("suppliers:notification-settings")
    assert alice_client.get(url).status_code == 200
    wanted = [k for k in NotificationKind.values if k != NotificationKind.ACK_REMINDER]
    response = alice_client.post(url, {"wanted": wanted})
    assert response.status_code == 302
    assert list(NotificationOptOut.objects.filter(user=supplier_user).values_list("kind", flat=True)) == [
        NotificationKind.ACK_REMINDER
    ]
    alice_client.post(url, {"wanted": NotificationKind.values})
    assert not NotificationOptOut.objects.filter(user=supplier_user).exists()


def test_an_unknown_kind_is_refused(alice_client, supplier_user):
    response = alice_client.post(reverse("suppliers:notification-settings"), {"wanted": ["spam"]})
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert not NotificationOptOut.objects.exists()
