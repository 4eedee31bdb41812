"""Supplier webhooks: registered through the API, fed by the delivery engine, one supplier's events only."""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from planning_sync import delivery, webhooks
from planning_sync.event_schemas import known_types
from planning_sync.models import Connector, Delivery, OutboxEvent, Subscription
from planning_sync.outbox import record_event
from purchasing.selectors.api import STORED_SUPPLIER_EVENT_TYPES
from suppliers.models import IdempotencyRecord
from suppliers.services import api_key_create
from tests.factories import PurchaseOrderFactory
from tests.planning_sync.receiver import Receiver

pytestmark = pytest.mark.django_db
SCOPE = "webhooks:manage"


@pytest.fixture(autouse=True)
def _fast_retries_and_local_receivers(settings):
    settings.PLANNING_SYNC = {**settings.PLANNING_SYNC, "retry_base_s": 0.01, "retry_cap_s": 0.05}
    settings.SUPPLYLINE_WEBHOOKS_ALLOW_HTTP = True


@pytest.fixture
def acme_receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def bolt_receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def _client(supplier, user, scopes=(SCOPE,)) -> APIClient:
    _, secret = api_key_create(supplier=supplier, name="hooks", scopes=list(scopes), by=user, expires_at=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def acme_api(supplier, supplier_user) -> APIClient:
    return _client(supplier, supplier_user)


@pytest.fixture
def bolt_api(other_supplier, outsider) -> APIClient:
    return _client(other_supplier, outsider)


def _register(api: APIClient, url: str, event_types=("supplyline.po.*",), expect: int = 201) -> Any:
    response = api.post(
        reverse("api:webhook-list"),
        {"url": url, "event_types": list(event_types), "description": "ERP bridge"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert response.status_code == expect, response.content
    return response.json()


def _record(po, type_="po.issued") -> OutboxEvent:
    with transaction.atomic():
        return record_event(type_, subject=po, data={"po_number": po.number, "supplier": "ACME", "lines": 1})


def _deliver_all(rounds: int = 20) -> None:
    for _ in range(rounds):
        Delivery.objects.filter(status=Delivery.Status.FAILED).update(next_attempt_at=timezone.now())
        if not delivery.dispatch(priority=None, budget_s=5):
            return


def _log(api: APIClient, pk: int) -> Any:
    response = api.get(reverse("api:webhook-delivery-list", args=[pk]))
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_a_registered_endpoint_gets_its_suppliers_event_signed_with_standard_webhooks(
    acme_api, acme_receiver, supplier
):
    endpoint = _register(acme_api, acme_receiver.url)
    assert endpoint["secret"].startswith("whsec_")
    assert endpoint["event_types"] == ["supplyline.po.*"]
    # Kept for the Idempotency-Key's retries, but encrypted: no table holds the secret readable.
    stored = bytes(IdempotencyRecord.objects.get().response_body)
    assert endpoint["secret"].encode() not in stored
    event = _record(PurchaseOrderFactory(supplier=supplier, number="PO-700001"))
    _deliver_all()
    (request,) = acme_receiver.requests
    payload = Webhook(endpoint["secret"]).verify(request["body"], request["headers"])
    assert payload["id"] == str(event.event_id) == request["headers"]["webhook-id"]
    assert payload["type"] == "supplyline.po.issued.v1"
    assert payload["subject"] == "PO-700001"
    assert request["headers"]["Content-Type"] == "application/cloudevents+json"
    with pytest.raises(Exception, match="signature"):
        Webhook(_register(acme_api, acme_receiver.url)["secret"]).verify(request["body"], request["headers"])


def test_an_endpoint_never_gets_another_suppliers_events(
    acme_api, bolt_api, acme_receiver, bolt_receiver, supplier, other_supplier
):
    acme = _register(acme_api, acme_receiver.url, ["supplyline.po.*", "supplyline.asn.*"])
    bolt = _register(bolt_api, bolt_receiver.url, ["supplyline.po.*", "supplyline.asn.*"])
    erp = Connector.objects.create(name="erp", kind="webhook", config={"url": acme_receiver.url})
    Subscription.objects.create(connector=erp, event_type="supplyline.po.*")
    acme_event = _record(PurchaseOrderFactory(supplier=supplier))
    bolt_event = _record(PurchaseOrderFactory(supplier=other_supplier))
    _deliver_all()
    assert [e["id"] for e in bolt_receiver.events()] == [str(bolt_event.event_id)]
    assert {d["event_id"] for d in _log(bolt_api, bolt["id"])} == {str(bolt_event.event_id)}
    assert {d["event_id"] for d in _log(acme_api, acme["id"])} == {str(acme_event.event_id)}
    assert set(Delivery.objects.filter(connector=erp).values_list("event", flat=True)) == {
        acme_event.pk,
        bolt_event.pk,
    }


def test_an_event_naming_no_supplier_goes_to_no_supplier_endpoint(acme_api, acme_receiver, supplier):
    _register(acme_api, acme_receiver.url)
    with transaction.atomic():
        unowned = record_event("po.issued", subject=supplier, data={})  # a supplier row has no supplier_id
    assert unowned.supplier_id is None
    assert not unowned.deliveries.exists()


def test_an_endpoint_gets_only_its_types_and_never_a_type_outside_the_supplier_list(acme_api, acme_receiver, supplier):
    endpoint = _register(acme_api, acme_receiver.url, ["supplyline.po.issued.v1"])
    # Even a subscription written behind the API's back cannot widen a supplier endpoint's feed.
    Subscription.objects.create(connector_id=endpoint["id"], event_type="supplyline.*")
    po = PurchaseOrderFactory(supplier=supplier)
    assert _record(po, "po.issued").deliveries.count() == 1
    assert _record(po, "po.revised").deliveries.count() == 1  # the wildcard, within the supplier list
    assert not _record(po, "po.line.changed").deliveries.exists()  # not in the supplier's feed either
    assert not _record(po, "po.internal.note").deliveries.exists()


def test_supplier_deliveries_go_in_the_bulk_class(acme_api, acme_receiver, supplier):
    _register(acme_api, acme_receiver.url)
    erp = Connector.objects.create(name="erp", kind="webhook", config={"url": acme_receiver.url})
    Subscription.objects.create(connector=erp, event_type="supplyline.po.*")
    with transaction.atomic():
        event = record_event("po.acknowledged", subject=PurchaseOrderFactory(supplier=supplier), data={}, critical=True)
    priorities = dict(event.deliveries.values_list("connector__name", "priority"))
    assert priorities == {"erp": OutboxEvent.Priority.CRITICAL, "webhook-acme-1": OutboxEvent.Priority.BULK}
    assert delivery.dispatch(priority=OutboxEvent.Priority.CRITICAL) == 1  # the ERP's, without the supplier's
    assert delivery.dispatch(priority=OutboxEvent.Priority.BULK) == 1


def test_a_failing_endpoint_is_retried_and_the_log_shows_attempts_and_last_error(acme_api, acme_receiver, supplier):
    endpoint = _register(acme_api, acme_receiver.url)
    event = _record(PurchaseOrderFactory(supplier=supplier))
    acme_receiver.answer(503, 500)
    (claimed,) = delivery.claim(priority=None)
    delivery.attempt(claimed)
    (entry,) = _log(acme_api, endpoint["id"])
    assert entry["event_id"] == str(event.event_id)
    assert entry["event_type"] == "supplyline.po.issued.v1"
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("failed", 1, 503)
    assert entry["last_error"].startswith("HTTP 503")
    assert entry["next_attempt_at"] is not None
    assert entry["delivered_at"] is None
    _deliver_all()
    (entry,) = _log(acme_api, endpoint["id"])
    assert (entry["status"], entry["attempts"], entry["last_error"]) == ("delivered", 3, "")
    assert entry["delivered_at"] is not None
    assert entry["next_attempt_at"] is None
    assert len({r["headers"]["webhook-id"] for r in acme_receiver.requests}) == 1  # the same id every time


def test_the_delivery_log_is_newest_first_and_paginated(acme_api, acme_receiver, supplier):
    endpoint = _register(acme_api, acme_receiver.url)
    events = [_record(PurchaseOrderFactory(supplier=supplier)) for _ in range(3)]
    first = acme_api.get(reverse("api:webhook-delivery-list", args=[endpoint["id"]]), {"limit": 2}).json()
    assert [d["event_id"] for d in first["results"]] == [str(e.event_id) for e in events[::-1][:2]]
    rest = acme_api.get(first["next"]).json()
    assert [d["event_id"] for d in rest["results"]] == [str(events[0].event_id)]


def test_deleting_an_endpoint_stops_deliveries_and_hides_it(acme_api, acme_receiver, supplier):
    endpoint = _register(acme_api, acme_receiver.url)
    waiting = _record(PurchaseOrderFactory(supplier=supplier))
    detail = reverse("api:webhook-detail", args=[endpoint["id"]])
    assert acme_api.delete(detail).status_code == 204
    after = _record(PurchaseOrderFactory(supplier=supplier))
    _deliver_all()
    assert acme_receiver.requests == []
    assert not after.deliveries.exists()
    assert waiting.deliveries.get().status == Delivery.Status.DEAD  # kept for staff, never sent
    assert acme_api.get(detail).status_code == 404
    assert acme_api.get(reverse("api:webhook-delivery-list", args=[endpoint["id"]])).status_code == 404
    assert acme_api.get(reverse("api:webhook-list")).json()["results"] == []


def test_the_list_shows_the_suppliers_endpoints_without_their_secrets(acme_api, bolt_api, acme_receiver):
    mine = _register(acme_api, acme_receiver.url)
    _register(bolt_api, acme_receiver.url)
    (listed,) = acme_api.get(reverse("api:webhook-list")).json()["results"]
    assert (listed["id"], listed["url"]) == (mine["id"], acme_receiver.url)
    assert "secret" not in listed
    assert "secret" not in acme_api.get(reverse("api:webhook-detail", args=[mine["id"]])).json()


@pytest.mark.parametrize(
    ("url", "event_types", "field"),
    [
        ("http://hooks.acme.example/events", ["supplyline.po.*"], "url"),
        ("https://10.0.0.5/events", ["supplyline.po.*"], "url"),
        ("https://127.1/events", ["supplyline.po.*"], "url"),
        ("https://localhost:8443/events", ["supplyline.po.*"], "url"),
        ("https://169.254.169.254/latest/meta-data", ["supplyline.po.*"], "url"),
        ("https://[::ffff:192.168.1.1]/events", ["supplyline.po.*"], "url"),
        ("https://user:pw@hooks.acme.example/events", ["supplyline.po.*"], "url"),
        ("https://hooks.acme.example/events", ["supplyline.po.shipped.v1"], "event_types"),
        ("https://hooks.acme.example/events", ["supplyline.*.internal"], "event_types"),
        ("https://hooks.acme.example/events", ["supplyline.exception.*"], "event_types"),
    ],
)
def test_an_unsafe_url_or_unknown_event_type_is_refused_with_its_field(acme_api, settings, url, event_types, field):
    settings.SUPPLYLINE_WEBHOOKS_ALLOW_HTTP = False
    settings.DEBUG = False
    body = _register(acme_api, url, event_types, expect=422)
    assert body["type"] == "urn:supplyline:problem:validation"
    assert {error["field"] for error in body["errors"]} == {field}
    assert not Connector.objects.exists()


def test_a_public_https_endpoint_is_accepted_in_production(acme_api, settings):
    settings.SUPPLYLINE_WEBHOOKS_ALLOW_HTTP = False
    settings.DEBUG = False
    endpoint = _register(acme_api, "https://hooks.acme.example/supplyline", ["supplyline.asn.submitted.v1"])
    connector = Connector.objects.get(pk=endpoint["id"])
    assert connector.name == "webhook-acme-1"
    assert connector.config == {
        "url": "https://hooks.acme.example/supplyline",
        "auth": {"type": "standard_webhooks", "secret": endpoint["secret"]},
    }


def test_a_supplier_has_at_most_ten_endpoints(supplier):
    for _ in range(webhooks.MAX_ENDPOINTS):
        webhooks.webhook_register(supplier=supplier, url="https://hooks.acme.example/", event_types=["supplyline.*"])
    with pytest.raises(ValidationError, match="at most 10"):
        webhooks.webhook_register(supplier=supplier, url="https://hooks.acme.example/", event_types=["supplyline.*"])
    webhooks.webhook_delete(connector=Connector.objects.filter(supplier=supplier).first())
    connector, _ = webhooks.webhook_register(
        supplier=supplier, url="https://hooks.acme.example/", event_types=["supplyline.*"]
    )
    assert connector.name == "webhook-acme-11"


def test_webhooks_carry_the_event_types_of_the_suppliers_feed_each_with_a_schema():
    assert set(STORED_SUPPLIER_EVENT_TYPES) == webhooks.SUPPLIER_EVENT_TYPES
    assert known_types() >= webhooks.SUPPLIER_EVENT_TYPES


def test_a_key_without_the_webhooks_scope_is_forbidden(supplier, supplier_user, acme_receiver):
    api = _client(supplier, supplier_user, scopes=["orders:read"])
    refused = api.get(reverse("api:webhook-list"))
    assert refused.status_code == 403
    assert refused.json()["scope"] == SCOPE
    response = api.post(reverse("api:webhook-list"), {"url": acme_receiver.url, "event_types": ["supplyline.*"]})
    assert response.status_code == 403
    assert not Connector.objects.exists()


def test_another_suppliers_endpoint_is_not_found(acme_api, bolt_api, acme_receiver, supplier):
    endpoint = _register(acme_api, acme_receiver.url)
    _record(PurchaseOrderFactory(supplier=supplier))
    for url in (
        reverse("api:webhook-detail", args=[endpoint["id"]]),
        reverse("api:webhook-delivery-list", args=[endpoint["id"]]),
    ):
        assert bolt_api.get(url).status_code == 404
    assert bolt_api.delete(reverse("api:webhook-detail", args=[endpoint["id"]])).status_code == 404
    assert Connector.objects.get(pk=endpoint["id"]).is_enabled


def test_staff_see_supplier_endpoints_in_the_monitor(acme_api, acme_receiver, supplier, buyer):
    _register(acme_api, acme_receiver.url)
    acme_receiver.answer(400)
    _record(PurchaseOrderFactory(supplier=supplier))
    _deliver_all()
    staff = Client()
    staff.force_login(buyer)
    assert b"webhook-acme-1" in staff.get(reverse("monitor:connector-list")).content
    page = staff.get(reverse("monitor:connector-detail", args=["webhook-acme-1"]))
    assert page.status_code == 200
    assert b"HTTP 400" in page.content
