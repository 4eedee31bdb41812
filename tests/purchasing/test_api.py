"""The purchasing REST API: purchase orders, acknowledgements (ETag, If-Match, idempotency), scopes, isolation."""

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from planning_sync.models import OutboxEvent
from purchasing.models import Acknowledgement, LineStatus, POStatus, PurchaseOrder, ReasonCode
from suppliers.services import api_key_create
from tests.factories import PurchaseOrderFactory, PurchaseOrderLineFactory, SiteFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("portal_defaults")]

ALL_SCOPES = ("orders:read", "orders:acknowledge", "shipments:write", "documents:write")


def api_client(supplier, *scopes: str) -> APIClient:
    _, secret = api_key_create(
        supplier=supplier, name="erp", scopes=list(scopes or ALL_SCOPES), by=None, expires_at=None
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def acme(supplier) -> APIClient:
    return api_client(supplier)


@pytest.fixture
def bolt(other_supplier) -> APIClient:
    return api_client(other_supplier)


def _answer() -> dict[str, Any]:
    """Accept line 10; raise line 20's price by 1% as a JSON number (within the 2% tolerance: touchless)."""
    return {
        "note": "From our ERP",
        "lines": [
            {"line_number": 10, "action": "accept"},
            {"line_number": 20, "action": "change", "unit_price": 12.62},
        ],
    }


# --- list and detail --------------------------------------------------------------------------------


def test_the_list_shows_only_the_keys_suppliers_orders(acme, bolt, po, other_supplier):
    PurchaseOrderFactory.create(supplier=other_supplier, number="PO-BOLT-1")
    body = acme.get("/api/v1/purchase-orders/").json()
    assert [row["number"] for row in body["results"]] == ["PO-100001"]
    assert body["results"][0]["needs_acknowledgement"] is True
    assert body["results"][0]["line_count"] == 2
    assert [row["number"] for row in bolt.get("/api/v1/purchase-orders/").json()["results"]] == ["PO-BOLT-1"]


def test_the_list_filters_by_status_site_change_time_and_acknowledgement(acme, po, shippable_po):
    def numbers(query: str) -> list[str]:
        response = acme.get(f"/api/v1/purchase-orders/?{query}")
        assert response.status_code == 200, response.content
        return [row["number"] for row in response.json()["results"]]

    assert numbers("status=acknowledged") == ["PO-200001"]
    assert numbers("site=WH-EAST") == ["PO-200001"]
    assert numbers("needs_acknowledgement=true") == ["PO-100001"]
    assert numbers("needs_acknowledgement=false") == ["PO-200001"]
    PurchaseOrder.objects.filter(pk=po.pk).update(updated_at=timezone.now() - dt.timedelta(days=3))
    since = (timezone.now() - dt.timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert numbers(f"updated_since={since}") == ["PO-200001"]
    assert acme.get("/api/v1/purchase-orders/?updated_since=yesterday").status_code == 422


def test_the_list_pages_by_last_change_in_constant_queries(acme, supplier, django_assert_max_num_queries):
    site = SiteFactory.create()
    for n in range(30):
        order = PurchaseOrderFactory.create(supplier=supplier, site=site, number=f"PO-9{n:05d}")
        PurchaseOrderLineFactory.create(po=order, line_number=10)
    seen: list[str] = []
    url = "/api/v1/purchase-orders/?limit=12"
    while url:
        with django_assert_max_num_queries(6):
            body = acme.get(url).json()
        seen += [row["number"] for row in body["results"]]
        url = body["next"]
    expected = list(
        PurchaseOrder.objects.filter(supplier=supplier).order_by("-updated_at", "-id").values_list("number", flat=True)
    )
    assert seen == expected
    assert len(seen) == 30


def test_the_detail_has_lines_schedule_lines_and_an_etag(acme, po):
    response = acme.get("/api/v1/purchase-orders/PO-100001/")
    assert response.status_code == 200
    assert response["ETag"] == f'"po-PO-100001-v{po.version}"'
    body = response.json()
    assert body["etag"] == response["ETag"]
    assert [line["line_number"] for line in body["lines"]] == [10, 20]
    assert [s["quantity"] for s in body["lines"][1]["schedule_lines"]] == ["40", "20"]


def test_if_none_match_with_the_current_etag_is_not_modified(acme, po):
    etag = acme.get("/api/v1/purchase-orders/PO-100001/")["ETag"]
    response = acme.get("/api/v1/purchase-orders/PO-100001/", HTTP_IF_NONE_MATCH=f"W/{etag}")
    assert response.status_code == 304
    assert response["ETag"] == etag
    PurchaseOrder.objects.filter(pk=po.pk).update(version=po.version + 1)
    assert acme.get("/api/v1/purchase-orders/PO-100001/", HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_another_suppliers_order_is_not_found(bolt, po):
    for response in (
        bolt.get("/api/v1/purchase-orders/PO-100001/"),
        bolt.post("/api/v1/purchase-orders/PO-100001/acknowledgements/", _answer(), format="json"),
    ):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
    assert not Acknowledgement.objects.exists()


# --- acknowledgements -------------------------------------------------------------------------------


def test_an_acknowledgement_applies_and_returns_each_lines_outcome(acme, po):
    etag = acme.get("/api/v1/purchase-orders/PO-100001/")["ETag"]
    response = acme.post(
        "/api/v1/purchase-orders/PO-100001/acknowledgements/", _answer(), format="json", HTTP_IF_MATCH=etag
    )
    assert response.status_code == 201, response.content
    body = response.json()
    po.refresh_from_db()
    assert body["version"] == po.version
    assert body["status"] == POStatus.ACKNOWLEDGED
    assert response["ETag"] == body["etag"] == f'"po-PO-100001-v{po.version}"'
    assert [(line["line_number"], line["outcome"]) for line in body["lines"]] == [(10, "applied"), (20, "applied")]
    assert Acknowledgement.objects.get().channel == "api"
    assert OutboxEvent.objects.filter(type="supplyline.po.acknowledged.v1").count() == 1


def test_a_rejection_and_a_change_beyond_tolerance_are_pending(acme, po):
    ReasonCode.objects.get_or_create(code="OUT_OF_STOCK", defaults={"label": "Out of stock"})
    answer = {
        "lines": [
            {"line_number": 10, "action": "reject", "reason_code": "OUT_OF_STOCK"},
            {"line_number": 20, "action": "change", "unit_price": 999.5},
        ]
    }
    response = acme.post("/api/v1/purchase-orders/PO-100001/acknowledgements/", answer, format="json")
    assert response.status_code == 201, response.content
    lines = {line["line_number"]: line for line in response.json()["lines"]}
    assert (lines[10]["action"], lines[10]["outcome"], lines[10]["line_status"]) == ("reject", "pending", "rejected")
    assert lines[10]["reason_code"] == "OUT_OF_STOCK"
    assert (lines[20]["outcome"], lines[20]["line_status"]) == ("pending", LineStatus.CHANGES_PENDING)
    assert lines[20]["breaches"]


def test_a_stale_if_match_is_refused_and_changes_nothing(acme, po):
    etag = acme.get("/api/v1/purchase-orders/PO-100001/")["ETag"]
    PurchaseOrder.objects.filter(pk=po.pk).update(version=po.version + 1)
    response = acme.post(
        "/api/v1/purchase-orders/PO-100001/acknowledgements/", _answer(), format="json", HTTP_IF_MATCH=etag
    )
    assert response.status_code == 412
    assert response.json()["type"] == "urn:supplyline:problem:stale-version"
    assert not Acknowledgement.objects.exists()
    assert set(po.lines.values_list("status", flat=True)) == {LineStatus.ISSUED}
    garbage = acme.post(
        "/api/v1/purchase-orders/PO-100001/acknowledgements/", _answer(), format="json", HTTP_IF_MATCH='"nonsense"'
    )
    assert garbage.status_code == 412


def test_a_replayed_acknowledgement_returns_the_first_answer_and_acts_once(acme, po):
    url = "/api/v1/purchase-orders/PO-100001/acknowledgements/"
    first = acme.post(url, _answer(), format="json", HTTP_IDEMPOTENCY_KEY="ack-1")
    again = acme.post(url, _answer(), format="json", HTTP_IDEMPOTENCY_KEY="ack-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again["ETag"] == first["ETag"]
    assert Acknowledgement.objects.count() == 1


def test_invalid_answers_are_field_errors_keyed_by_line_number(acme, po):
    answer = {
        "lines": [{"line_number": 10, "action": "accept"}, {"line_number": 20, "action": "change", "quantity": "x"}]
    }
    response = acme.post("/api/v1/purchase-orders/PO-100001/acknowledgements/", answer, format="json")
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"lines.20.quantity"}
    missing = acme.post(
        "/api/v1/purchase-orders/PO-100001/acknowledgements/",
        {"lines": [{"line_number": 10, "action": "accept"}]},
        format="json",
    )
    assert missing.status_code == 422
    assert {e["field"] for e in missing.json()["errors"]} == {"lines.20"}
    assert not Acknowledgement.objects.exists()


def test_decimals_may_be_strings_as_well_as_numbers(acme, po):
    answer = _answer()
    answer["lines"][1]["unit_price"] = "12.62"
    response = acme.post("/api/v1/purchase-orders/PO-100001/acknowledgements/", answer, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["lines"][1]["proposed"]["unit_price"] == "12.62"


# --- scopes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("get", "/api/v1/purchase-orders/", "orders:read"),
        ("get", "/api/v1/purchase-orders/PO-100001/", "orders:read"),
        ("post", "/api/v1/purchase-orders/PO-100001/acknowledgements/", "orders:acknowledge"),
        ("get", "/api/v1/shipment-notices/", "orders:read"),
        ("post", "/api/v1/shipment-notices/", "shipments:write"),
        ("get", "/api/v1/shipment-notices/1/", "orders:read"),
        ("post", "/api/v1/shipment-notices/1/cancel/", "shipments:write"),
        ("post", "/api/v1/documents/", "documents:write"),
        ("get", "/api/v1/documents/1/", "documents:write"),
        ("get", "/api/v1/events/", "orders:read"),
    ],
)
def test_a_key_without_the_scope_is_forbidden(supplier, po, method, path, scope):
    others = [s for s in (*ALL_SCOPES, "webhooks:manage") if s != scope]
    client = api_client(supplier, *others)
    response = getattr(client, method)(path, {}, format="json")
    assert response.status_code == 403
    assert response.json()["scope"] == scope
    assert not Acknowledgement.objects.exists()


def test_no_key_is_unauthorized(po):
    assert APIClient().get("/api/v1/purchase-orders/").status_code == 401
