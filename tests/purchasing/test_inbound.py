"""Documents from the ERP and the planning system: each import applies once, and a replay changes nothing."""

import datetime as dt
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from planning_sync.envelope import cloudevent
from planning_sync.event_schemas import validate_event
from planning_sync.models import OutboxEvent
from purchasing.inbound import (
    ImportOutcome,
    demand_import,
    document_schema,
    inventory_import,
    purchase_order_import,
    receipt_import,
    safety_stock_import,
)
from purchasing.models import (
    Channel,
    Demand,
    DemandKind,
    HistoryEntry,
    InventoryBalance,
    LineStatus,
    POStatus,
    PurchaseOrder,
    Receipt,
    SafetyStock,
)
from purchasing.services import acknowledgement_accept_all
from suppliers.models import Supplier
from tests.factories import ItemFactory, SiteFactory
from tests.purchasing.test_concurrency import in_thread

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
NEED_BY = TODAY + dt.timedelta(days=21)


@pytest.fixture(autouse=True)
def _catalogue(db):
    SiteFactory.create(code="DAL1")
    for sku in ("BRG-6204", "BLT-M8", "GSK-DN50"):
        ItemFactory.create(sku=sku)


def line(number: int, sku: str, quantity: Any, price: Any = "4.25", need_by: dt.date = NEED_BY) -> dict[str, Any]:
    return {
        "line_number": number,
        "item_sku": sku,
        "quantity": quantity,
        "unit_price": price,
        "need_by_date": need_by.isoformat(),
    }


def po_document(
    supplier: Supplier, *, revision: int = 1, lines: list[Any] | None = None, **fields: Any
) -> dict[str, Any]:
    return {
        "erp_id": "4500000001",
        "number": "PO-300001",
        "revision": revision,
        "supplier_erp_vendor_id": supplier.erp_vendor_id,
        "site_code": "DAL1",
        "currency": "USD",
        "order_date": TODAY.isoformat(),
        "buyer_email": "charlie@example.com",
        "status": "open",
        "lines": [line(10, "BRG-6204", 100), line(20, "BLT-M8", 240, "0.18")] if lines is None else lines,
        **fields,
    }


def events(short_type: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type=f"supplyline.{short_type}.v1").order_by("id"))


def errors_of(excinfo: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return excinfo.value.message_dict


@pytest.fixture
def acknowledged_po(supplier, buyer, supplier_user) -> PurchaseOrder:
    purchase_order_import(po_document(supplier))
    po = PurchaseOrder.objects.get(erp_id="4500000001")
    acknowledgement_accept_all(po=po, by=supplier_user, channel=Channel.API, expected_version=None)
    po.refresh_from_db()
    return po


# --- purchase orders ----------------------------------------------------------------


def test_a_new_po_is_issued_for_the_supplier_to_acknowledge(supplier, buyer):
    assert purchase_order_import(po_document(supplier)) == "created"

    po = PurchaseOrder.objects.get(erp_id="4500000001")
    assert (po.number, po.supplier, po.buyer, po.site.code, po.status) == (
        "PO-300001",
        supplier,
        buyer,
        "DAL1",
        POStatus.ISSUED,
    )
    assert [
        (li.line_number, li.item.sku, li.ordered_quantity, li.status) for li in po.lines.order_by("line_number")
    ] == [
        (10, "BRG-6204", Decimal(100), LineStatus.ISSUED),
        (20, "BLT-M8", Decimal(240), LineStatus.ISSUED),
    ]
    assert [e.channel for e in events("po.issued")] == ["erp"]


def test_replaying_a_po_changes_nothing(supplier, buyer):
    purchase_order_import(po_document(supplier))
    version = PurchaseOrder.objects.get().version

    assert purchase_order_import(po_document(supplier)) == "unchanged"
    assert purchase_order_import(po_document(supplier, lines=[line(10, "GSK-DN50", 5)])) == "unchanged"

    assert PurchaseOrder.objects.get().version == version
    assert OutboxEvent.objects.count() == 1
    assert HistoryEntry.objects.count() == 1


def test_a_higher_revision_asks_to_reacknowledge_what_changed(supplier, acknowledged_po):
    revision = po_document(supplier, revision=2, lines=[line(10, "BRG-6204", 120), line(30, "GSK-DN50", 500, "0.12")])

    assert purchase_order_import(revision) == "revised"

    po = PurchaseOrder.objects.get()
    lines = {li.line_number: li for li in po.lines.all()}
    assert (po.revision, po.status) == (2, POStatus.REVISED)
    assert lines[10].status == LineStatus.REVISED
    assert lines[10].revision_changes == {"quantity": ["100", "120"]}
    assert lines[20].status == LineStatus.CANCELLED
    assert (lines[30].status, lines[30].item.sku, lines[30].ordered_quantity) == (
        LineStatus.REVISED,
        "GSK-DN50",
        Decimal(500),
    )
    diff = events("po.revised")[0].data["lines"]
    assert [(d["line_number"], d["change"]) for d in diff] == [(10, "changed"), (20, "cancelled"), (30, "added")]
    assert events("po.revised")[0].channel == "erp"
    assert purchase_order_import(revision) == "unchanged"


def test_the_erp_revision_number_is_the_truth(supplier, acknowledged_po):
    purchase_order_import(po_document(supplier, revision=5, lines=[line(10, "BRG-6204", 90), line(20, "BLT-M8", 240)]))

    assert PurchaseOrder.objects.get().revision == 5
    assert purchase_order_import(po_document(supplier, revision=4)) == "unchanged"


def test_a_revision_that_changes_no_commitment_is_recorded_without_asking_again(supplier, acknowledged_po):
    same_lines = po_document(supplier, revision=2, buyer_email="someone.else@example.com")

    assert purchase_order_import(same_lines) == "revised"

    po = PurchaseOrder.objects.get()
    assert (po.revision, po.status, po.version) == (2, POStatus.ACKNOWLEDGED, acknowledged_po.version + 1)
    assert set(po.lines.values_list("status", flat=True)) == {LineStatus.ACKNOWLEDGED}
    assert po.history.filter(action="revised", channel=Channel.ERP).count() == 1
    assert events("po.revised") == []


def test_a_cancelled_po_cancels_its_open_lines(supplier, acknowledged_po):
    cancellation = po_document(supplier, revision=2, status="cancelled")

    assert purchase_order_import(cancellation) == "cancelled"

    po = PurchaseOrder.objects.get()
    assert (po.status, po.revision) == (POStatus.CANCELLED, 2)
    assert set(po.lines.values_list("status", flat=True)) == {LineStatus.CANCELLED}
    assert po.history.filter(action="cancelled", channel=Channel.ERP).exists()
    assert [e.data["lines"] for e in events("po.cancelled")] == [[10, 20]]
    assert purchase_order_import(cancellation) == "unchanged"
    assert len(events("po.cancelled")) == 1


def test_the_cancellation_of_a_po_never_issued_changes_nothing(supplier):
    assert purchase_order_import(po_document(supplier, status="cancelled")) == "unchanged"
    assert not PurchaseOrder.objects.exists()


def test_a_new_po_needs_a_known_buyer(supplier):
    with pytest.raises(ValidationError) as missing:
        purchase_order_import({**po_document(supplier), "buyer_email": ""})
    with pytest.raises(ValidationError) as unknown:
        purchase_order_import(po_document(supplier, buyer_email="nobody@example.com"))

    assert "buyer_email" in errors_of(missing)
    assert errors_of(unknown) == {"buyer_email": ["No active user has the e-mail address nobody@example.com."]}
    assert not PurchaseOrder.objects.exists()


@pytest.mark.parametrize(
    ("bad_line", "path", "message"),
    [
        ({"quantity": -5}, "lines[1].quantity", "-5 is less than the minimum of 0"),
        ({"quantity": "ten"}, "lines[1].quantity", "'ten' does not match"),
        ({"quantity": True}, "lines[1].quantity", "True is not a number"),
        ({"quantity": 0}, "lines[1].quantity", "0 must be more than zero."),
        ({"quantity": 1.2345}, "lines[1].quantity", "1.2345 has more than 3 decimal places."),
        ({"need_by_date": "2030-02-30"}, "lines[1].need_by_date", "'2030-02-30' is not a 'date'"),
        ({"item_sku": "NOPE"}, "lines[1].item_sku", "There is no item with SKU 'NOPE'."),
        ({"line_number": 10}, "lines[1].line_number", "Line 10 appears twice."),
        ({"need_by_date": "2020-01-01"}, "lines[1].need_by_date", "The need-by date 2020-01-01 is in the past."),
    ],
)
def test_a_bad_line_is_refused_naming_its_field(supplier, buyer, bad_line, path, message):
    document = po_document(supplier)
    document["lines"][1].update(bad_line)

    with pytest.raises(ValidationError) as excinfo:
        purchase_order_import(document)

    assert path in errors_of(excinfo)
    assert errors_of(excinfo)[path][0].startswith(message)
    assert not PurchaseOrder.objects.exists()


def test_a_document_missing_fields_names_each(supplier):
    with pytest.raises(ValidationError) as excinfo:
        purchase_order_import({"erp_id": "1", "lines": [{"line_number": 10}]})

    errors = errors_of(excinfo)
    assert "'number' is a required property" in errors["document"]
    assert "'item_sku' is a required property" in errors["lines[0]"]


def test_a_revision_cannot_change_a_lines_item(supplier, acknowledged_po):
    with pytest.raises(ValidationError) as excinfo:
        purchase_order_import(po_document(supplier, revision=2, lines=[line(10, "GSK-DN50", 100)]))

    assert errors_of(excinfo) == {
        "lines[0].item_sku": ["Line 10 is for item BRG-6204: a revision cannot change a line's item."]
    }
    assert PurchaseOrder.objects.get().revision == 1


# --- receipts ----------------------------------------------------------------------------


def receipt(erp_id: str, *lines: dict[str, Any]) -> dict[str, Any]:
    return {
        "erp_id": erp_id,
        "po_number": "PO-300001",
        "received_at": "2026-12-01T08:30:00+01:00",
        "lines": list(lines),
    }


def test_receipts_receive_lines_and_then_the_po(acknowledged_po):
    first = receipt("GR-1", {"line_number": 10, "quantity": 100}, {"line_number": 20, "quantity": "200"})

    assert receipt_import(first) == "created"

    lines = {li.line_number: li for li in acknowledged_po.lines.all()}
    assert (lines[10].status, lines[10].received_quantity) == (LineStatus.RECEIVED, Decimal(100))
    assert (lines[20].status, lines[20].received_quantity) == (LineStatus.ACKNOWLEDGED, Decimal(200))
    assert PurchaseOrder.objects.get().status == POStatus.ACKNOWLEDGED

    assert receipt_import(receipt("GR-2", {"line_number": 20, "quantity": 30, "close": True})) == "created"

    po = PurchaseOrder.objects.get()
    assert po.status == POStatus.RECEIVED
    assert po.lines.get(line_number=20).status == LineStatus.CLOSED
    recorded = events("receipt.recorded")
    assert [e.data["receipt_id"] for e in recorded] == ["GR-1", "GR-2"]
    assert recorded[1].data["status"] == POStatus.RECEIVED
    assert recorded[0].data["lines"][1] == {
        "line_number": 20,
        "quantity": "200",
        "received_quantity": "200.000",
        "closes_line": False,
        "status": LineStatus.ACKNOWLEDGED,
    }


def test_replaying_a_receipt_changes_nothing(acknowledged_po):
    document = receipt("GR-1", {"line_number": 10, "quantity": 40})
    receipt_import(document)

    assert receipt_import(document) == "unchanged"

    assert acknowledged_po.lines.get(line_number=10).received_quantity == Decimal(40)
    assert Receipt.objects.get().lines.count() == 1
    assert len(events("receipt.recorded")) == 1


def test_a_line_awaiting_acknowledgement_cannot_be_received(supplier, buyer):
    purchase_order_import(po_document(supplier))

    with pytest.raises(ValidationError) as excinfo:
        receipt_import(receipt("GR-1", {"line_number": 20, "quantity": 5}))

    assert errors_of(excinfo) == {
        "lines[0].line_number": [
            "Line 20 is awaiting acknowledgement: only acknowledged or shipped lines are received."
        ]
    }
    assert not Receipt.objects.exists()


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [
        ({"po_number": "PO-999"}, "po_number", "There is no purchase order 'PO-999'."),
        ({"lines": [{"line_number": 30, "quantity": 1}]}, "lines[0].line_number", "Line 30 is not on this"),
        ({"received_at": "2026-12-01T08:30:00"}, "received_at", "'2026-12-01T08:30:00' is not a 'date-time'"),
        ({"lines": []}, "lines", "[] should be non-empty"),
    ],
)
def test_a_bad_receipt_names_its_field(acknowledged_po, document, path, message):
    with pytest.raises(ValidationError) as excinfo:
        receipt_import({**receipt("GR-1", {"line_number": 10, "quantity": 1}), **document})

    assert errors_of(excinfo)[path][0].startswith(message)
    assert not Receipt.objects.exists()


# --- stock and demand ---------------------------------------------------------------------


def test_on_hand_is_upserted_and_an_older_count_changes_nothing():
    count = {"item_sku": "BRG-6204", "site_code": "DAL1", "quantity": 40, "as_of": "2026-12-01T06:00:00Z"}

    assert inventory_import(count) == "created"
    assert inventory_import(count) == "unchanged"
    assert inventory_import({**count, "quantity": "-3.5", "as_of": "2026-12-01T07:00:00Z"}) == "updated"
    assert inventory_import({**count, "quantity": 99, "as_of": "2026-12-01T06:30:00Z"}) == "unchanged"

    balance = InventoryBalance.objects.get()
    assert (balance.quantity, balance.as_of) == (Decimal("-3.5"), dt.datetime(2026, 12, 1, 7, tzinfo=dt.UTC))


def test_stock_of_an_unknown_item_or_site_names_both():
    with pytest.raises(ValidationError) as excinfo:
        safety_stock_import({"item_sku": "NOPE", "site_code": "XX9", "quantity": 5})

    assert errors_of(excinfo) == {
        "item_sku": ["There is no item with SKU 'NOPE'."],
        "site_code": ["There is no site with code 'XX9'."],
    }


def test_demand_is_upserted_by_its_id_and_withdrawn_at_zero():
    demand = {
        "external_id": "SO-77/1",
        "item_sku": "BLT-M8",
        "site_code": "DAL1",
        "date": "2026-12-15",
        "quantity": 80,
        "kind": "customer_order",
        "priority": 1,
        "customer_reference": "ACME Corp PO 991",
    }

    assert demand_import(demand) == "created"
    assert demand_import(demand) == "unchanged"
    assert demand_import({**demand, "quantity": 90, "date": "2026-12-16"}) == "updated"
    stored = Demand.objects.get()
    assert (stored.quantity, stored.date, stored.kind, stored.priority) == (
        Decimal(90),
        dt.date(2026, 12, 16),
        DemandKind.CUSTOMER_ORDER,
        1,
    )
    assert demand_import({**demand, "quantity": 0}) == "deleted"
    assert demand_import({**demand, "quantity": 0}) == "unchanged"
    assert not Demand.objects.exists()


def test_demand_of_an_unknown_kind_is_refused():
    with pytest.raises(ValidationError) as excinfo:
        demand_import(
            {"external_id": "F-1", "item_sku": "BLT-M8", "site_code": "DAL1", "date": "2026-12-15"}
            | {"quantity": 5, "kind": "backorder"}
        )

    assert errors_of(excinfo) == {"kind": ["'backorder' is not one of ['forecast', 'customer_order']"]}


def test_safety_stock_is_upserted():
    level = {"item_sku": "GSK-DN50", "site_code": "DAL1", "quantity": 200}

    assert safety_stock_import(level) == "created"
    assert safety_stock_import(level) == "unchanged"
    assert safety_stock_import({**level, "quantity": "250.5"}) == "updated"
    assert SafetyStock.objects.get().quantity == Decimal("250.5")


def stock_events() -> list[tuple[str, str, dict[str, Any]]]:
    """The stock and demand events recorded so far: short type, subject and data, each valid against its schema."""
    events = []
    for event in OutboxEvent.objects.filter(type__regex=r"\.(inventory|demand|safety_stock)\.").order_by("id"):
        envelope = cloudevent(event)
        validate_event(envelope)
        events.append((event.type.removeprefix("supplyline.").removesuffix(".v1"), event.subject, event.data))
    return events


def test_a_change_of_on_hand_records_an_event_and_a_replay_none():
    ItemFactory.create(sku="BRG-6204")
    count = {"item_sku": "BRG-6204", "site_code": "DAL1", "quantity": 40, "as_of": "2026-12-01T06:00:00Z"}

    inventory_import(count)
    inventory_import(count)
    inventory_import({**count, "as_of": "2026-12-01T06:30:00Z"})  # counted again: the same quantity
    inventory_import({**count, "quantity": "-3.5", "as_of": "2026-12-01T07:00:00Z"})
    inventory_import({**count, "quantity": 99, "as_of": "2026-12-01T06:45:00Z"})  # older: ignored

    base = {"item_sku": "BRG-6204", "site": "DAL1"}
    assert stock_events() == [
        (
            "inventory.changed",
            "BRG-6204",
            base | {"quantity": "40", "previous_quantity": None, "as_of": "2026-12-01T06:00:00+00:00"},
        ),
        (
            "inventory.changed",
            "BRG-6204",
            base | {"quantity": "-3.5", "previous_quantity": "40.000", "as_of": "2026-12-01T07:00:00+00:00"},
        ),
    ]


def test_a_change_of_demand_records_where_it_was_and_where_it_is():
    SiteFactory.create(code="HOU2")
    demand = {
        "external_id": "SO-77/1",
        "item_sku": "BLT-M8",
        "site_code": "DAL1",
        "date": "2026-12-15",
        "quantity": 80,
        "kind": "customer_order",
        "priority": 1,
        "customer_reference": "ACME Corp PO 991",
    }

    demand_import(demand)
    demand_import(demand)
    demand_import({**demand, "site_code": "HOU2", "quantity": "90.5"})
    demand_import({**demand, "site_code": "HOU2", "quantity": 0})
    demand_import({**demand, "quantity": 0})

    where = {"item_sku": "BLT-M8", "date": "2026-12-15", "kind": "customer_order", "priority": 1}
    where |= {"customer_reference": "ACME Corp PO 991"}
    events = [(kind, data) for kind, _, data in stock_events()]
    assert events == [
        (
            "demand.changed",
            {"external_id": "SO-77/1", "change": "created", "site": "DAL1", "quantity": "80", "previous": None} | where,
        ),
        (
            "demand.changed",
            {"external_id": "SO-77/1", "change": "updated", "site": "HOU2", "quantity": "90.5"}
            | where
            | {"previous": {"site": "DAL1", "quantity": "80.000"} | where},
        ),
        (
            "demand.changed",
            {"external_id": "SO-77/1", "change": "deleted", "site": "HOU2", "quantity": "0"}
            | where
            | {"previous": {"site": "HOU2", "quantity": "90.500"} | where},
        ),
    ]


def test_a_change_of_safety_stock_records_an_event():
    ItemFactory.create(sku="GSK-DN50")
    level = {"item_sku": "GSK-DN50", "site_code": "DAL1", "quantity": 200}

    safety_stock_import(level)
    safety_stock_import(level)
    safety_stock_import({**level, "quantity": "250.5"})

    base = {"item_sku": "GSK-DN50", "site": "DAL1"}
    assert stock_events() == [
        ("safety_stock.changed", "GSK-DN50", base | {"quantity": "200", "previous_quantity": None}),
        ("safety_stock.changed", "GSK-DN50", base | {"quantity": "250.5", "previous_quantity": "200.000"}),
    ]


def test_a_refused_stock_document_records_no_event():
    with pytest.raises(ValidationError):
        demand_import(
            {"external_id": "F-1", "item_sku": "NOPE", "site_code": "DAL1", "date": "2026-12-15"}
            | {"quantity": 5, "kind": "forecast"}
        )
    with pytest.raises(ValidationError):
        inventory_import(
            {"item_sku": "BRG-6204", "site_code": "DAL1", "quantity": "1.2345", "as_of": "2026-12-01T06:00:00Z"}
        )

    assert stock_events() == []


def test_the_demand_schema_knows_every_kind():
    assert document_schema("demand")["properties"]["kind"]["enum"] == list(DemandKind.values)


def test_every_event_an_import_records_matches_its_schema(supplier, acknowledged_po):
    purchase_order_import(po_document(supplier, revision=2, lines=[line(10, "BRG-6204", 120), line(20, "BLT-M8", 240)]))
    acknowledgement_accept_all(po=acknowledged_po, by=None, channel=Channel.API, expected_version=None)
    receipt_import(receipt("GR-1", {"line_number": 10, "quantity": 120}, {"line_number": 20, "quantity": 1.5}))
    purchase_order_import(po_document(supplier, number="PO-300002", erp_id="4500000002"))
    purchase_order_import(po_document(supplier, number="PO-300002", erp_id="4500000002", status="cancelled"))

    recorded = [cloudevent(event) for event in OutboxEvent.objects.order_by("id")]

    assert {e["type"] for e in recorded} >= {"supplyline.receipt.recorded.v1", "supplyline.po.cancelled.v1"}
    for envelope in recorded:
        validate_event(envelope)


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_new_po_create_it_once(supplier, buyer):
    document = po_document(supplier)
    first_applied = threading.Event()

    def import_then_hold_the_transaction() -> ImportOutcome:
        with transaction.atomic():
            outcome = purchase_order_import(document)
            first_applied.set()
            time.sleep(0.5)  # the second import reads no PO, then waits on this one's insert
        return outcome

    def import_while_the_first_is_open() -> ImportOutcome:
        first_applied.wait(timeout=10)
        return purchase_order_import(document)

    started = [in_thread(import_then_hold_the_transaction), in_thread(import_while_the_first_is_open)]
    for thread, _ in started:
        thread.join(timeout=30)

    assert [outcome for _, outcome in started] == [{"result": "created"}, {"result": "unchanged"}]
    assert PurchaseOrder.objects.count() == 1
