"""The purchasing REST API: shipment notices, document uploads and the events feed."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from planning_sync.models import OutboxEvent
from purchasing import services
from purchasing.documents.shapes import ShipmentInput, ShipmentLineInput
from purchasing.models import InboundDocument, Item, PurchaseOrderLine, ShipmentNotice, ShipmentStatus
from purchasing.selectors import STORED_SUPPLIER_EVENT_TYPES
from purchasing.services import NewLine
from tests.factories import ItemFactory, PurchaseOrderFactory, SiteFactory
from tests.purchasing.documents.test_intake import fixture
from tests.purchasing.test_api import api_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("portal_defaults")]


@pytest.fixture
def acme(supplier):
    return api_client(supplier)


@pytest.fixture
def bolt(other_supplier):
    return api_client(other_supplier)


def _notice(number: str = "ASN-API-1", quantity: str = "60") -> dict[str, Any]:
    return {
        "number": number,
        "ship_date": timezone.localdate().isoformat(),
        "carrier_scac": "UPSN",
        "packages": [{"ref": "P1", "kind": "pallet"}, {"ref": "C1", "kind": "carton", "parent_ref": "P1"}],
        "lines": [
            {"po_number": "PO-200001", "line_number": 10, "quantity": quantity, "package_ref": "C1"},
            {"po_number": "PO-200001", "line_number": 20, "quantity": 60, "package_ref": "P1"},
        ],
    }


def _send(client, body=None, **extra):
    return client.post("/api/v1/shipment-notices/", body or _notice(), format="json", **extra)


# --- shipment notices -------------------------------------------------------------------------------


def test_a_notice_is_sent_with_generated_ssccs(acme, shippable_po):
    response = _send(acme)
    assert response.status_code == 201, response.content
    body = response.json()
    notice = ShipmentNotice.objects.get()
    assert response["Location"] == f"/api/v1/shipment-notices/{notice.pk}/"
    assert (body["number"], body["channel"], body["site"]) == ("ASN-API-1", "api", "WH-EAST")
    pallet, carton = body["packages"]
    assert pallet["parent_sscc"] is None
    assert carton["parent_sscc"] == pallet["sscc"]
    assert all(len(p["sscc"]) == 18 for p in body["packages"])
    assert [(line["line_number"], line["quantity"], line["package_sscc"]) for line in body["lines"]] == [
        (10, "60", carton["sscc"]),
        (20, "60", pallet["sscc"]),
    ]
    assert OutboxEvent.objects.filter(type="supplyline.asn.submitted.v1", channel="api").count() == 1


def test_over_shipment_is_a_field_error_keyed_like_the_service(acme, shippable_po):
    response = _send(acme, _notice(quantity="200"))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["lines.1.quantity"]
    assert "tolerance allows at most 105" in errors[0]["detail"]
    assert not ShipmentNotice.objects.exists()


def test_shape_errors_count_lines_from_one(acme, shippable_po):
    body = _notice()
    body["lines"][1]["quantity"] = "lots"
    response = _send(acme, body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["lines.2.quantity"]


def test_notices_list_read_and_cancel(acme, shippable_po, django_assert_max_num_queries):
    notice_id = _send(acme).json()["id"]
    with django_assert_max_num_queries(6):
        listed = acme.get("/api/v1/shipment-notices/?po=PO-200001").json()
    assert [row["id"] for row in listed["results"]] == [notice_id]
    assert acme.get(f"/api/v1/shipment-notices/{notice_id}/").json()["number"] == "ASN-API-1"
    cancelled = acme.post(f"/api/v1/shipment-notices/{notice_id}/cancel/", {"reason": "Truck broke"}, format="json")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == ShipmentStatus.CANCELLED
    assert set(PurchaseOrderLine.objects.values_list("shipped_quantity", flat=True)) == {0}
    again = acme.post(f"/api/v1/shipment-notices/{notice_id}/cancel/", {"reason": "Twice"}, format="json")
    assert again.status_code == 422


def test_the_notice_list_is_constant_in_queries(acme, supplier, shippable_po, django_assert_max_num_queries):
    for n in range(25):
        services.shipment_notice_submit(
            supplier=supplier,
            by=None,
            shipment=ShipmentInput(
                number=f"ASN-{n}",
                ship_date=timezone.localdate(),
                lines=(ShipmentLineInput("PO-200001", 10, quantity=Decimal(1)),),
            ),
            channel="api",
        )
    with django_assert_max_num_queries(6):
        body = acme.get("/api/v1/shipment-notices/?limit=10").json()
    assert len(body["results"]) == 10
    assert body["next"]


def test_another_suppliers_notice_is_not_found(acme, bolt, shippable_po):
    notice_id = _send(acme).json()["id"]
    assert bolt.get(f"/api/v1/shipment-notices/{notice_id}/").status_code == 404
    cancel = bolt.post(f"/api/v1/shipment-notices/{notice_id}/cancel/", {"reason": "x"}, format="json")
    assert cancel.status_code == 404
    assert bolt.get("/api/v1/shipment-notices/").json()["results"] == []
    # Shipping against another supplier's PO reads as an unknown PO.
    assert [e["field"] for e in _send(bolt).json()["errors"]][:1] == ["lines.1.po_number"]
    assert ShipmentNotice.objects.get().status != ShipmentStatus.CANCELLED


# --- documents --------------------------------------------------------------------------------------


def test_an_uploaded_csv_is_accepted_and_readable(acme, shippable_po):
    upload = fixture("ship_notice.csv")
    response = acme.post(
        "/api/v1/documents/", {"file": _file(upload, "asn.csv"), "kind": "ship_notice"}, format="multipart"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "accepted"
    assert body["filename"] == "asn.csv"
    notice = ShipmentNotice.objects.get()
    assert body["outcome"]["shipments"] == [{"number": "ASN-EQ-1", "id": notice.pk}]
    assert response["Location"] == body["url"]
    detail = acme.get(f"/api/v1/documents/{body['id']}/").json()
    assert detail["id"] == body["id"]
    assert detail["status"] == "accepted"


def test_a_raw_x12_body_is_answered_and_a_duplicate_is_kept_apart(acme, shippable_po):
    content = fixture("ship_notice.x12")
    first = acme.generic("POST", "/api/v1/documents/", content, content_type="application/edi-x12")
    assert first.status_code == 201, first.content
    assert first.json()["replies"][0]["filename"]
    again = acme.generic("POST", "/api/v1/documents/", content, content_type="application/edi-x12")
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["duplicate_of"] == first.json()["id"]
    assert ShipmentNotice.objects.count() == 1


def test_a_rejected_document_is_a_problem_with_located_errors(acme, shippable_po):
    content = fixture("ship_notice.csv").replace(b"SKU-NUT,60", b"SKU-NUT,-6")
    response = acme.generic(
        "POST", "/api/v1/documents/?kind=ship_notice&filename=bad.csv", content, content_type="text/csv"
    )
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:supplyline:problem:document-rejected"
    assert problem["document"]["filename"] == "bad.csv"
    assert [(e["row"], e["column"]) for e in problem["document"]["errors"]] == [(4, "quantity")]
    assert InboundDocument.objects.get().pk == problem["document"]["id"]
    assert not ShipmentNotice.objects.exists()


def test_another_suppliers_document_is_not_found(acme, bolt, shippable_po):
    document_id = acme.post(
        "/api/v1/documents/", {"file": _file(fixture("ship_notice.csv"), "a.csv"), "kind": "ship_notice"}
    ).json()["id"]
    assert bolt.get(f"/api/v1/documents/{document_id}/").status_code == 404


def _file(content: bytes, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


# --- events -----------------------------------------------------------------------------------------


def test_the_events_feed_pages_through_the_suppliers_own_events(
    acme, bolt, supplier, other_supplier, shippable_po, django_assert_max_num_queries
):
    _send(acme)
    for n in range(4):
        PurchaseOrderFactory.create(supplier=other_supplier, number=f"PO-B{n}")
        _issue(supplier, f"PO-A{n}")
    _issue(other_supplier, "PO-BOLT")
    mine = list(
        OutboxEvent.objects.filter(supplier=supplier, type__in=STORED_SUPPLIER_EVENT_TYPES)
        .order_by("id")
        .values_list("event_id", flat=True)
    )
    assert len(mine) == 5
    seen: list[str] = []
    url = "/api/v1/events/?limit=2"
    for _ in range(3):
        with django_assert_max_num_queries(6):
            body = acme.get(url).json()
        seen += [event["id"] for event in body["results"]]
        url = body["next"]
    assert seen == [str(e) for e in mine]
    assert not body["has_more"]
    assert body["results"][0]["specversion"] == "1.0"
    assert acme.get(url).json()["results"] == []
    assert acme.get(f"/api/v1/events/?after={seen[0]}").json()["results"][0]["id"] == seen[1]
    # Another supplier's event id is not a cursor of this feed; BOLT sees only its own.
    assert bolt.get(f"/api/v1/events/?after={seen[0]}").status_code == 422
    assert {e["subject"] for e in bolt.get("/api/v1/events/").json()["results"]} == {"PO-BOLT"}


def _issue(supplier, number: str) -> None:
    item = Item.objects.filter(sku="SKU-ISSUE").first() or ItemFactory.create(sku="SKU-ISSUE")
    services.purchase_order_issue(
        number=number,
        erp_id=f"ERP-{number}",
        supplier=supplier,
        buyer=supplier.buyer,
        site=SiteFactory.create(),
        order_date=timezone.localdate(),
        lines=[NewLine(item.sku, Decimal(5), Decimal(1), timezone.localdate() + dt.timedelta(days=30))],
    )
