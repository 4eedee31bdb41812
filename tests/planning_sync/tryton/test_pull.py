"""Purchases, receipts and on-hand quantities pulled from a real Tryton server into the portal."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from planning_sync.connectors.tryton.mapping import line_number_of, purchase_erp_id, purchase_line_of
from planning_sync.connectors.tryton.pull import PURCHASES_CURSOR, RECEIPTS_CURSOR, tryton_pull
from planning_sync.connectors.tryton.rpc import TrytonError
from planning_sync.feeds import cursor_of, pull_all
from planning_sync.models import Connector, InboundRecord, OutboxEvent, TrytonMapping, TrytonPurchase
from purchasing.documents.shapes import ShipmentInput, ShipmentLineInput
from purchasing.models import InventoryBalance, LineStatus, POStatus, PurchaseOrder, Receipt
from purchasing.services import LineDecision, acknowledgement_submit, shipment_notice_submit
from tests.planning_sync.tryton.conftest import LINE_DATE, NEED_BY, confirmed_purchase
from tests.planning_sync.tryton_server import TrytonServer

pytestmark = pytest.mark.django_db


def tryton_lines(tryton: TrytonServer, purchase: int) -> list[dict[str, Any]]:
    return tryton.client.search_read(
        "purchase.line", [("purchase", "=", purchase)], ["moves", "quantity"], order=[("id", "ASC")]
    )


def amend_line(tryton: TrytonServer, line: int, **values: Any) -> None:
    """Change a processing purchase's line in place, as Tryton's purchase_amendment module does.

    Tryton refuses to write a processing purchase's lines over RPC, and purchase_amendment is not
    installed here; what the pull sees is the same: new values and a new write date.
    """
    columns = ", ".join(f"{name} = ?" for name in values)
    with sqlite3.connect(tryton.workdir / f"{tryton.database}.sqlite") as database:
        database.execute(
            f"UPDATE purchase_line SET {columns}, write_date = ? WHERE id = ?",  # noqa: S608 - names from this test
            [*values.values(), dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(" "), line],
        )
    database.close()


def answer_all(po: PurchaseOrder) -> None:
    """The supplier accepts every line awaiting an answer."""
    waiting = po.lines.filter(status__in=("issued", "revised")).values_list("line_number", flat=True)
    decisions = [LineDecision(line_number=number, action="accept") for number in waiting]
    acknowledgement_submit(po=po, by=None, decisions=decisions, channel="web", expected_version=None)


def receive_in_tryton(tryton: TrytonServer, purchase: int, quantities: dict[int, float], reference: str) -> int:
    """A supplier shipment bringing the purchase's draft moves in the given quantities (by product id), done."""
    ids = tryton.ids
    moves = tryton.client.search_read("stock.move", [("purchase", "=", purchase), ("state", "=", "draft")], ["product"])
    (shipment,) = tryton.client.create(
        "stock.shipment.in",
        [
            {
                "reference": reference,
                "supplier": ids["supplier"],
                "warehouse": ids["warehouse"],
                "warehouse_input": ids["warehouse_input"],
                "warehouse_storage": ids["warehouse_storage"],
                "incoming_moves": [["add", [move["id"] for move in moves]]],
            }
        ],
    )
    for move in moves:
        tryton.client.write("stock.move", [move["id"]], {"quantity": quantities[move["product"]]})
    tryton.client.model("stock.shipment.in", "receive", [shipment])
    tryton.client.model("stock.shipment.in", "do", [shipment])
    return shipment


def line_values(po: PurchaseOrder) -> list[tuple[Any, ...]]:
    return [
        (line.line_number, line.item.sku, line.ordered_quantity, line.unit_price, line.need_by_date, line.status)
        for line in po.lines.select_related("item").order_by("line_number")
    ]


# --- purchases ------------------------------------------------------------------------------------


def test_a_confirmed_purchase_becomes_a_po_with_every_field(tryton, connector, portal, buyer):
    purchase = confirmed_purchase(tryton)

    results = tryton_pull(connector)

    assert results["purchase_orders"].outcomes == {"created": 1}
    po = PurchaseOrder.objects.get(erp_id=f"tryton:{purchase}")
    (number,) = tryton.client.read("purchase.purchase", [purchase], ["number", "purchase_date"])
    assert (po.number, po.order_date, po.revision, po.status) == (
        number["number"],
        number["purchase_date"],
        1,
        "issued",
    )
    assert (po.supplier, po.site, po.buyer, po.currency) == (portal.supplier, portal.site, buyer, "USD")
    assert line_values(po) == [
        (1, "SKU-T1", Decimal("10.000"), Decimal("2.5000"), LINE_DATE, LineStatus.ISSUED),
        (2, "SKU-T2", Decimal("4.000"), Decimal("12.0000"), NEED_BY, LineStatus.ISSUED),
    ]
    assert OutboxEvent.objects.filter(type__contains=".po.issued.", subject=po.number).exists()
    first, second = tryton_lines(tryton, purchase)
    assert [line_number_of(connector, first["id"]), line_number_of(connector, second["id"])] == [1, 2]
    assert purchase_line_of(connector, po.erp_id, 2) == second["id"]
    assert cursor_of(connector, PURCHASES_CURSOR)


def test_pulling_again_changes_nothing(tryton, connector):
    purchase = confirmed_purchase(tryton)
    tryton_pull(connector)
    po_events = OutboxEvent.objects.filter(type__contains=".po.")
    events = po_events.count()

    results = tryton_pull(connector)

    # Read again (the pull looks back a little past its cursor), and recognised as the same revision.
    assert results["purchase_orders"].outcomes == {"unchanged": 1}
    assert po_events.count() == events
    assert PurchaseOrder.objects.get(erp_id=purchase_erp_id(purchase)).revision == 1
    assert TrytonPurchase.objects.get(connector=connector, purchase_id=purchase).revision == 1


def test_a_purchase_changed_in_tryton_is_a_new_revision_to_acknowledge(tryton, connector):
    purchase = confirmed_purchase(tryton)
    tryton_pull(connector)
    po = PurchaseOrder.objects.get(erp_id=purchase_erp_id(purchase))
    answer_all(po)
    first, second = tryton_lines(tryton, purchase)
    later = LINE_DATE + dt.timedelta(days=3)
    tryton.client.write("purchase.line", [first["id"]], {"delivery_date_store": later})
    amend_line(tryton, second["id"], quantity=6.0, unit_price="11.5000")

    results = tryton_pull(connector)

    assert results["purchase_orders"].outcomes == {"revised": 1}
    po.refresh_from_db()
    assert po.revision == 2
    assert line_values(po) == [
        (1, "SKU-T1", Decimal("10.000"), Decimal("2.5000"), later, LineStatus.REVISED),
        (2, "SKU-T2", Decimal("6.000"), Decimal("11.5000"), NEED_BY, LineStatus.REVISED),
    ]
    assert tryton_pull(connector)["purchase_orders"].outcomes == {"unchanged": 1}


def test_a_promised_date_on_the_tryton_move_is_no_new_revision(tryton, connector):
    """The connector writes the supplier's promised date on the line's stock move: reading it back
    must not ask the supplier to acknowledge their own promise."""
    purchase = confirmed_purchase(tryton)
    tryton_pull(connector)
    first, _ = tryton_lines(tryton, purchase)
    tryton.client.write("stock.move", first["moves"], {"planned_date": LINE_DATE + dt.timedelta(days=9)})

    results = tryton_pull(connector)

    assert results["purchase_orders"].outcomes == {"unchanged": 1}
    assert PurchaseOrder.objects.get(erp_id=purchase_erp_id(purchase)).revision == 1


def test_a_line_whose_moves_are_cancelled_in_tryton_is_cancelled_in_a_revision(tryton, connector):
    purchase = confirmed_purchase(tryton)
    tryton_pull(connector)
    _, second = tryton_lines(tryton, purchase)
    tryton.client.model("stock.move", "cancel", second["moves"])

    results = tryton_pull(connector)

    assert results["purchase_orders"].outcomes == {"revised": 1}
    po = PurchaseOrder.objects.get(erp_id=purchase_erp_id(purchase))
    assert [(line.line_number, line.status) for line in po.lines.order_by("line_number")] == [
        (1, LineStatus.ISSUED),
        (2, LineStatus.CANCELLED),
    ]


def test_a_purchase_whose_every_move_is_cancelled_in_tryton_cancels_the_po(tryton, connector):
    purchase = confirmed_purchase(tryton)
    tryton_pull(connector)
    moves = [move for line in tryton_lines(tryton, purchase) for move in line["moves"]]
    tryton.client.model("stock.move", "cancel", moves)

    results = tryton_pull(connector)

    assert results["purchase_orders"].outcomes == {"cancelled": 1}
    po = PurchaseOrder.objects.get(erp_id=purchase_erp_id(purchase))
    assert po.status == POStatus.CANCELLED
    assert set(po.lines.values_list("status", flat=True)) == {LineStatus.CANCELLED}
    assert OutboxEvent.objects.filter(type__contains=".po.cancelled.", subject=po.number).count() == 1
    assert tryton_pull(connector)["purchase_orders"].outcomes == {"unchanged": 1}


def test_purchases_not_yet_confirmed_or_cancelled_before_import_are_left_alone(tryton, connector):
    confirmed_purchase(tryton, cancelled=True)
    ids = tryton.ids
    tryton.client.create(
        "purchase.purchase",
        [{"party": ids["supplier"], "invoice_address": ids["supplier_address"], "invoice_method": "manual"}],
    )

    results = tryton_pull(connector)

    assert results["purchase_orders"].outcomes == {}
    assert not PurchaseOrder.objects.exists()
    assert not InboundRecord.objects.exists()


def test_purchases_of_a_party_mapped_to_no_supplier_are_not_the_portals(tryton, connector):
    (party,) = tryton.client.create(
        "party.party", [{"name": "Not on the portal", "code": "OTHER", "addresses": [["create", [{}]]]}]
    )
    (address,) = tryton.client.search_read("party.address", [("party", "=", party)], ["id"])
    tryton.ids |= {"other": party, "other_address": address["id"]}
    confirmed_purchase(tryton, party="other")

    results = tryton_pull(connector)

    assert results["purchase_orders"].outcomes == {}
    assert not PurchaseOrder.objects.exists()
    assert not InboundRecord.objects.exists()


def test_an_unmapped_product_is_quarantined_until_it_is_mapped(tryton, connector, portal):
    TrytonMapping.objects.filter(connector=connector, item=portal.items["SKU-T2"]).delete()
    purchase = confirmed_purchase(tryton)

    results = tryton_pull(connector)

    number = tryton.client.read("purchase.purchase", [purchase], ["number"])[0]["number"]
    error = (
        f"Purchase {number}: Tryton product SKU-T2 (id {tryton.ids['product_t2']}) is not mapped to an item: "
        "map it under Planning sync > Tryton mappings or run manage.py tryton_propose_mappings."
    )
    assert [(q.external_id, q.error) for q in results["purchase_orders"].quarantined] == [(f"tryton:{purchase}", error)]
    record = InboundRecord.objects.get()
    assert (record.connector, record.feed, record.external_id, record.error) == (
        connector,
        "purchase_orders",
        f"tryton:{purchase}",
        error,
    )
    assert record.payload["products"] == ["SKU-T1", "SKU-T2"]
    assert not PurchaseOrder.objects.exists()
    tryton_pull(connector)
    assert InboundRecord.objects.count() == 1  # the same error, kept once however often it is read again

    TrytonMapping.objects.create(
        connector=connector, kind="item", tryton_id=tryton.ids["product_t2"], item=portal.items["SKU-T2"]
    )
    results = tryton_pull(connector)

    assert results["purchase_orders"].outcomes == {"created": 1}
    assert not InboundRecord.objects.exists()


def test_an_unmapped_warehouse_is_quarantined_with_its_code(tryton, connector, portal):
    TrytonMapping.objects.filter(connector=connector, site=portal.site).delete()
    purchase = confirmed_purchase(tryton)

    tryton_pull(connector)

    number = tryton.client.read("purchase.purchase", [purchase], ["number"])[0]["number"]
    assert InboundRecord.objects.get().error == (
        f"Tryton warehouse WH (id {tryton.ids['warehouse']}) of purchase {number} is not mapped to a site: "
        "map it under Planning sync > Tryton mappings or run manage.py tryton_propose_mappings."
    )


def test_a_line_without_a_delivery_date_or_in_another_unit_is_quarantined(tryton, connector):
    (unit,) = tryton.client.read("product.uom", [tryton.ids["unit"]], ["category"])
    (box,) = tryton.client.create(
        "product.uom",
        [
            {
                "name": "Box of 12",
                "symbol": "box",
                "category": unit["category"],
                "factor": 12.0,
                "rate": round(1 / 12, 12),
            }
        ],
    )
    undated = confirmed_purchase(tryton, delivery_date=None)
    boxed = confirmed_purchase(tryton, second_line={"unit": box})

    results = tryton_pull(connector)

    numbers = {
        row["id"]: row["number"] for row in tryton.client.read("purchase.purchase", [undated, boxed], ["number"])
    }
    undated_line, boxed_line = tryton_lines(tryton, undated)[1], tryton_lines(tryton, boxed)[1]
    assert sorted((q.external_id, q.error) for q in results["purchase_orders"].quarantined) == [
        (
            f"tryton:{undated}",
            f"Purchase {numbers[undated]}: line {undated_line['id']} (SKU-T2) has no delivery date: set the line's or "
            "the purchase's delivery date in Tryton, or a lead time on the product's supplier.",
        ),
        (
            f"tryton:{boxed}",
            f"Purchase {numbers[boxed]}: line {boxed_line['id']} (SKU-T2) is in box, not in the product's default "
            "unit, which quantities are exchanged in: order it in that unit in Tryton.",
        ),
    ]


def test_an_unreachable_tryton_moves_no_cursor_and_the_next_pull_catches_up(tryton, connector):
    confirmed_purchase(tryton)
    tryton_pull(connector)
    cursors = (cursor_of(connector, PURCHASES_CURSOR), cursor_of(connector, RECEIPTS_CURSOR))
    second = confirmed_purchase(tryton)
    tryton.stop()

    with pytest.raises(TrytonError) as raised:
        tryton_pull(connector)

    assert raised.value.retryable
    connector.refresh_from_db()
    assert (cursor_of(connector, PURCHASES_CURSOR), cursor_of(connector, RECEIPTS_CURSOR)) == cursors
    assert not PurchaseOrder.objects.filter(erp_id=purchase_erp_id(second)).exists()
    assert pull_all() == {}  # the scheduled pull logs the failure and goes on

    tryton.start()
    tryton_pull(connector)
    assert PurchaseOrder.objects.filter(erp_id=purchase_erp_id(second)).exists()


def test_the_scheduled_pull_includes_tryton_connectors(tryton, connector):
    confirmed_purchase(tryton)

    results = pull_all()

    assert sorted(results) == ["tryton/inventory", "tryton/purchase_orders", "tryton/receipts"]
    assert results["tryton/purchase_orders"].outcomes == {"created": 1}


def test_the_scheduled_pull_waits_while_the_circuit_is_open_or_the_bucket_is_empty(tryton, connector):
    confirmed_purchase(tryton)
    Connector.objects.filter(pk=connector.pk).update(circuit=Connector.Circuit.OPEN)
    assert pull_all() == {}  # Tryton is known to be down: the deliveries' probe finds out when it is back
    assert not PurchaseOrder.objects.exists()

    Connector.objects.filter(pk=connector.pk).update(circuit=Connector.Circuit.CLOSED, rate_per_s=0.1, burst=1)
    assert sorted(pull_all()) == ["tryton/inventory", "tryton/purchase_orders", "tryton/receipts"]
    assert pull_all() == {}  # the one token of the bucket is spent: the next beat tries again


# --- receipts and inventory -----------------------------------------------------------------------


def test_a_shipment_received_in_tryton_is_a_receipt_against_its_asn(tryton, connector, portal):
    purchase = confirmed_purchase(tryton)
    tryton_pull(connector)
    po = PurchaseOrder.objects.get(erp_id=purchase_erp_id(purchase))
    answer_all(po)
    notice = shipment_notice_submit(
        supplier=portal.supplier,
        by=None,
        shipment=ShipmentInput(
            number="ASN-T-1",
            ship_date=timezone.localdate(),
            lines=(
                ShipmentLineInput(po.number, 1, Decimal(6)),
                ShipmentLineInput(po.number, 2, Decimal(4)),
            ),
        ),
        channel="web",
    )
    ids = tryton.ids
    shipment = receive_in_tryton(tryton, purchase, {ids["product_t1"]: 6.0, ids["product_t2"]: 4.0}, "ASN-T-1")

    results = tryton_pull(connector)

    assert results["receipts"].outcomes == {"created": 1}
    receipt = Receipt.objects.get()
    (done,) = tryton.client.read("stock.shipment.in", [shipment], ["effective_date", "write_date"])
    assert receipt.external_id == f"tryton-shipment:{shipment}/{purchase}"
    # When Tryton marked it done (its write date, UTC), which is on its effective date at the site.
    assert receipt.received_at == done["write_date"].replace(tzinfo=dt.UTC)
    assert receipt.received_at.astimezone(ZoneInfo(portal.site.timezone)).date() == done["effective_date"]
    po.refresh_from_db()
    assert [(line.line_number, line.received_quantity, line.status) for line in po.lines.order_by("line_number")] == [
        (1, Decimal("6.000"), LineStatus.PARTIALLY_SHIPPED),
        (2, Decimal("4.000"), LineStatus.RECEIVED),
    ]
    notice.refresh_from_db()
    # Received, and closed at once: everything it said it shipped arrived.
    assert (notice.status, notice.received_at) == ("closed", receipt.received_at)
    balances = InventoryBalance.objects.filter(site=portal.site).values_list("item__sku", "quantity")
    assert sorted(balances) == [("SKU-T1", Decimal("6.000")), ("SKU-T2", Decimal("4.000"))]
    assert tryton_pull(connector)["receipts"].outcomes == {"unchanged": 1}


def test_a_receipt_before_the_acknowledgement_waits_in_quarantine(tryton, connector):
    purchase = confirmed_purchase(tryton)
    tryton_pull(connector)
    ids = tryton.ids
    shipment = receive_in_tryton(tryton, purchase, {ids["product_t1"]: 10.0, ids["product_t2"]: 4.0}, "REF-9")

    results = tryton_pull(connector)

    (quarantined,) = results["receipts"].quarantined
    assert quarantined.external_id == f"tryton-shipment:{shipment}/{purchase}"
    assert "only acknowledged or shipped lines are received" in quarantined.error

    po = PurchaseOrder.objects.get(erp_id=purchase_erp_id(purchase))
    answer_all(po)
    results = tryton_pull(connector)

    assert results["receipts"].outcomes == {"created": 1}
    assert not InboundRecord.objects.exists()
    po.refresh_from_db()
    assert po.status == POStatus.RECEIVED


def test_on_hand_quantities_of_mapped_products_are_pulled_every_time(tryton, connector, portal):
    results = tryton_pull(connector)

    assert results["inventory"].outcomes == {"created": 2}
    balances = InventoryBalance.objects.values_list("item__sku", "site__code", "quantity")
    assert sorted(balances) == [("SKU-T1", "WH", Decimal(0)), ("SKU-T2", "WH", Decimal(0))]
    assert tryton_pull(connector)["inventory"].outcomes == {"updated": 2}  # counted again: a later as_of
