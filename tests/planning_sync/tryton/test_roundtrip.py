"""Issue 8's proof: a purchase goes from a real Tryton to the supplier and back, through the delivery engine,
also when Tryton stops half-way."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest
from django.utils import timezone

from planning_sync import delivery
from planning_sync.connectors.tryton.pull import tryton_pull
from planning_sync.models import Delivery, Subscription
from purchasing.documents.shapes import ShipmentInput, ShipmentLineInput
from purchasing.models import PurchaseOrder, ShipmentNotice, ShipmentStatus
from purchasing.rules import Delivery as Promise
from purchasing.services import LineDecision, acknowledgement_submit, shipment_notice_submit
from tests.planning_sync.tryton.conftest import LINE_DATE, NEED_BY, confirmed_purchase, purchase_lines

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("portal_defaults")]

FOR_TRYTON = ["supplyline.po.line.changed.v1", "supplyline.po.acknowledged.v1"]


@pytest.fixture
def engine(settings, connector):
    """The connector subscribed to everything, with retries milliseconds apart and a quick circuit breaker."""
    settings.PLANNING_SYNC = {
        **settings.PLANNING_SYNC,
        "retry_base_s": 0.01,
        "retry_cap_s": 0.05,
        "circuit_threshold": 3,
        "circuit_cooldown_s": 0.1,
    }
    Subscription.objects.create(connector=connector, event_type="supplyline.*")
    connector.max_attempts = 50
    connector.save(update_fields=["max_attempts"])
    return connector


def dispatch_rounds(rounds: int) -> None:
    """What the sweep does every few seconds, squeezed: send whatever is due, again and again."""
    for _ in range(rounds):
        Delivery.objects.filter(status=Delivery.Status.FAILED).update(next_attempt_at=timezone.now())
        delivery.dispatch(priority=None, budget_s=5)
        time.sleep(0.15)  # lets an open circuit cool down


def dispatch_until_delivered(max_rounds: int = 20) -> None:
    for _ in range(max_rounds):
        dispatch_rounds(1)
        if not Delivery.objects.exclude(status=Delivery.Status.DELIVERED).exists():
            return
    raise AssertionError(list(Delivery.objects.values_list("event__type", "status", "last_error")))


@pytest.mark.parametrize("outage", [False, True], ids=["tryton-up", "tryton-stopped-mid-way"])
def test_a_purchase_goes_round_trip_between_tryton_and_the_supplier(tryton, engine, portal, outage):
    # A purchase confirmed in Tryton appears in the portal.
    purchase = confirmed_purchase(tryton)
    tryton_pull(engine)
    po = PurchaseOrder.objects.get(erp_id=f"tryton:{purchase}")
    assert [(line.item.sku, line.ordered_quantity) for line in po.lines.order_by("line_number")] == [
        ("SKU-T1", Decimal(10)),
        ("SKU-T2", Decimal(4)),
    ]
    if outage:
        tryton.stop()

    # The supplier promises line 1 two days later; Tryton's line shows it once the engine delivered it.
    later = LINE_DATE + dt.timedelta(days=2)
    decisions = [LineDecision(1, "change", deliveries=(Promise(Decimal(10), later),)), LineDecision(2, "accept")]
    acknowledgement_submit(po=po, by=None, decisions=decisions, channel="web", expected_version=po.version)
    if outage:
        dispatch_rounds(5)
        deliveries = Delivery.objects.filter(connector=engine, event__type__in=FOR_TRYTON)
        assert deliveries.count() == len(FOR_TRYTON)
        assert set(deliveries.values_list("status", flat=True)) <= {Delivery.Status.FAILED, Delivery.Status.PENDING}
        assert max(deliveries.values_list("attempts", flat=True)) > 1
        assert "network" in deliveries.exclude(last_error="").first().last_error
        tryton.start()
    dispatch_until_delivered()
    first, second = purchase_lines(tryton, purchase)
    assert (first["delivery_date"], second["delivery_date"]) == (later, NEED_BY)
    (row,) = tryton.client.read("purchase.purchase", [purchase], ["comment"])
    assert "acknowledged by the supplier" in row["comment"]

    # The supplier ships 6 of line 1's 10 and all of line 2.
    notice = ShipmentInput(
        number="ASN-RT1",
        ship_date=timezone.localdate(),
        estimated_arrival=timezone.localdate() + dt.timedelta(days=2),
        lines=(ShipmentLineInput(po.number, 1, Decimal(6)), ShipmentLineInput(po.number, 2, Decimal(4))),
    )
    shipment_notice_submit(supplier=portal.supplier, by=None, shipment=notice, channel="web")
    dispatch_until_delivered()
    assert not Delivery.objects.filter(status=Delivery.Status.DEAD).exists()

    # Tryton has a draft supplier shipment for the notice, with the shipped quantities.
    (shipment,) = tryton.client.search_read(
        "stock.shipment.in", [("reference", "=", "ASN-RT1")], ["state", "incoming_moves"]
    )
    moves = tryton.client.read("stock.move", shipment["incoming_moves"], ["product", "quantity"])
    assert shipment["state"] == "draft"
    assert sorted((m["product"], m["quantity"]) for m in moves) == [
        (tryton.ids["product_t1"], 6.0),
        (tryton.ids["product_t2"], 4.0),
    ]

    # The warehouse receives it in Tryton; the next pull marks the notice received in the portal.
    tryton.client.model("stock.shipment.in", "receive", [shipment["id"]])
    tryton.client.model("stock.shipment.in", "do", [shipment["id"]])
    tryton_pull(engine)

    received = ShipmentNotice.objects.get(supplier=portal.supplier, number="ASN-RT1")
    assert received.status in (ShipmentStatus.RECEIVED, ShipmentStatus.CLOSED)
    quantities = {line.po_line.line_number: line.received_quantity for line in received.lines.all()}
    assert quantities == {1: Decimal(6), 2: Decimal(4)}
