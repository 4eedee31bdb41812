"""Acknowledgements and shipment notices delivered to a real Tryton by the Tryton connector."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from planning_sync.connectors import Outcome, connector_for
from planning_sync.connectors.tryton.connector import TrytonConnector
from planning_sync.connectors.tryton.pull import tryton_pull
from planning_sync.envelope import cloudevent
from planning_sync.models import Connector, OutboxEvent, TrytonMapping
from purchasing.documents.shapes import ShipmentInput, ShipmentLineInput
from purchasing.models import AcknowledgementLine, PurchaseOrder, ShipmentNotice
from purchasing.rules import Delivery
from purchasing.services import (
    LineDecision,
    acknowledgement_submit,
    proposal_decide,
    shipment_notice_cancel,
    shipment_notice_replace,
    shipment_notice_submit,
)
from tests.factories import PurchaseOrderFactory, PurchaseOrderLineFactory, ScheduleLineFactory
from tests.planning_sync.tryton.conftest import LINE_DATE, NEED_BY, confirmed_purchase, purchase_lines
from tests.planning_sync.tryton_server import TrytonServer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("portal_defaults")]

TODAY = timezone.localdate()


@pytest.fixture
def imported(tryton, connector) -> tuple[int, PurchaseOrder]:
    """A purchase confirmed in Tryton and pulled into the portal: (Tryton purchase id, our PO)."""
    purchase = confirmed_purchase(tryton)
    tryton_pull(connector)
    return purchase, PurchaseOrder.objects.get(erp_id=f"tryton:{purchase}")


def deliver_new_events(connector: Connector, since: int = 0, **kwargs: Any) -> list[tuple[str, Outcome]]:
    """Deliver every event recorded after event ``since`` (by id), in order; each event's type and outcome."""
    events = OutboxEvent.objects.filter(pk__gt=since).order_by("pk")
    return [(e.type.split(".", 1)[1], connector_for(connector).deliver(cloudevent(e))) for e in events]


def last_event_id() -> int:
    return OutboxEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def answer(po: PurchaseOrder, *decisions: LineDecision, note: str = "") -> None:
    po.refresh_from_db()
    acknowledgement_submit(po=po, by=None, decisions=decisions, channel="web", expected_version=po.version, note=note)


def accept_all(po: PurchaseOrder) -> None:
    answer(po, LineDecision(1, "accept"), LineDecision(2, "accept"))


def comment(tryton: TrytonServer, purchase: int) -> str:
    return tryton.client.read("purchase.purchase", [purchase], ["comment"])[0]["comment"] or ""


def shipment_notice(po: PurchaseOrder, number: str = "ASN-T1", **quantities: str) -> ShipmentInput:
    return ShipmentInput(
        number=number,
        ship_date=TODAY,
        estimated_arrival=TODAY + dt.timedelta(days=3),
        lines=tuple(
            ShipmentLineInput(po.number, int(n.removeprefix("line")), Decimal(q)) for n, q in quantities.items()
        ),
    )


def shipments(tryton: TrytonServer, reference: str) -> list[dict[str, Any]]:
    rows = tryton.client.search_read(
        "stock.shipment.in", [("reference", "=", reference)], ["state", "supplier", "warehouse", "incoming_moves"]
    )
    for row in rows:
        row["moves"] = sorted(
            (m["product"], m["quantity"], m["state"])
            for m in tryton.client.read("stock.move", row["incoming_moves"], ["product", "quantity", "state"])
        )
    return rows


# --- acknowledgements ------------------------------------------------------------------------------


def test_a_later_promise_moves_the_tryton_line_and_the_answer_is_on_the_purchase(tryton, connector, imported):
    purchase, po = imported
    since = last_event_id()
    later = LINE_DATE + dt.timedelta(days=2)  # within the supplier's 2 days' tolerance: applied at once

    answer(
        po,
        LineDecision(1, "change", deliveries=(Delivery(Decimal(10), later),), note="Kiln maintenance"),
        LineDecision(2, "accept"),
        note="Thanks",
    )
    outcomes = deliver_new_events(connector, since)

    assert [(kind, o.delivered) for kind, o in outcomes] == [("po.line.changed.v1", True), ("po.acknowledged.v1", True)]
    first, second = purchase_lines(tryton, purchase)
    assert (first["delivery_date"], [m["planned_date"] for m in first["moves"]]) == (later, [later])
    assert second["delivery_date"] == NEED_BY
    text = comment(tryton, purchase)
    assert f"{po.number} line 1 (SKU-T1) changed: deliveries 10 on {later}" in text
    assert f'{po.number} revision 1 acknowledged by the supplier (acknowledged): "Thanks"' in text
    assert f'line 1: change deliveries 10 on {later}, applied; note: "Kiln maintenance"' in text
    assert f"line 2: accepted, promised 4 on {NEED_BY}" in text
    assert "NOT APPLIED" not in text


def test_a_repeated_delivery_writes_the_comment_once(tryton, connector, imported):
    purchase, po = imported
    since = last_event_id()
    accept_all(po)
    (event,) = OutboxEvent.objects.filter(pk__gt=since)

    outcomes = [connector_for(connector).deliver(cloudevent(event)) for _ in range(3)]

    assert all(o.delivered for o in outcomes)
    assert comment(tryton, purchase).count(str(event.event_id)) == 1


def test_a_price_change_is_left_to_the_buyer_in_tryton(tryton, connector, imported):
    purchase, po = imported
    since = last_event_id()

    answer(po, LineDecision(1, "change", unit_price=Decimal("2.52")), LineDecision(2, "accept"))  # +0.8%: applied
    outcomes = deliver_new_events(connector, since)

    assert all(o.delivered for _, o in outcomes)
    first, _ = purchase_lines(tryton, purchase)
    assert first["unit_price"] == Decimal("2.50")
    assert "NOT APPLIED, change the purchase by hand: unit price 2.5 -> 2.52" in comment(tryton, purchase)


def test_the_buyers_decisions_are_recorded_on_the_purchase(tryton, connector, imported, buyer):
    purchase, po = imported
    answer(po, LineDecision(1, "accept"), LineDecision(2, "reject", reason_code="OUT_OF_STOCK", note="Discontinued"))
    since = last_event_id()

    proposal_decide(answer=AcknowledgementLine.objects.get(outcome="pending"), by=buyer, approve=True)
    outcomes = deliver_new_events(connector, since)

    assert [(kind, o.delivered) for kind, o in outcomes] == [("po.proposal.decided.v1", True)]
    text = comment(tryton, purchase)
    assert f"{po.number} buyer approved the supplier's answer" in text
    assert 'line 2: rejected (OUT_OF_STOCK), approved by the buyer; note: "Discontinued"' in text
    assert "NOT APPLIED: the line is cancelled in the portal; cancel its moves in Tryton by hand" in text


def test_events_of_pos_from_elsewhere_and_of_other_types_need_no_tryton(tryton, connector, portal):
    po = PurchaseOrderFactory.create(supplier=portal.supplier, site=portal.site, erp_id="SAP-4711")
    line = PurchaseOrderLineFactory.create(po=po, line_number=1, item=portal.items["SKU-T1"])
    ScheduleLineFactory.create(line=line)
    tryton.stop()  # any call would fail

    answer(po, LineDecision(1, "accept"))
    shipment_notice_submit(supplier=portal.supplier, by=None, shipment=shipment_notice(po, line1="100"), channel="web")
    outcomes = deliver_new_events(connector)

    assert [(kind, o.delivered) for kind, o in outcomes] == [("po.acknowledged.v1", True), ("asn.submitted.v1", True)]
    other = {"id": "x", "type": "supplyline.po.issued.v1", "data": {}}
    assert connector_for(connector).deliver(other) == Outcome(delivered=True, status_code=204)


# --- shipment notices ------------------------------------------------------------------------------


def test_a_shipment_notice_becomes_a_draft_supplier_shipment_once(tryton, connector, portal, imported):
    purchase, po = imported
    accept_all(po)
    since = last_event_id()
    ids = tryton.ids

    shipment_notice_submit(
        supplier=portal.supplier, by=None, shipment=shipment_notice(po, line1="6", line2="4"), channel="web"
    )
    event = OutboxEvent.objects.get(pk__gt=since)
    outcomes = [connector_for(connector).deliver(cloudevent(event)) for _ in range(2)]

    assert all(o.delivered for o in outcomes)
    (shipment,) = shipments(tryton, "ASN-T1")
    assert (shipment["state"], shipment["supplier"], shipment["warehouse"]) == (
        "draft",
        ids["supplier"],
        ids["warehouse"],
    )
    assert shipment["moves"] == [(ids["product_t1"], 6.0, "draft"), (ids["product_t2"], 4.0, "draft")]
    first, _ = purchase_lines(tryton, purchase)
    # The 4 not shipped stay open on the purchase line, outside the shipment.
    assert sorted((m["quantity"], m["shipment"] is None) for m in first["moves"]) == [(4.0, True), (6.0, False)]


def test_a_replaced_notice_refills_the_shipment_and_a_cancelled_one_empties_it(tryton, connector, portal, imported):
    purchase, po = imported
    accept_all(po)
    since = last_event_id()
    notice = shipment_notice_submit(
        supplier=portal.supplier, by=None, shipment=shipment_notice(po, line1="6", line2="4"), channel="web"
    )
    ids = tryton.ids

    replaced = shipment_notice_replace(notice=notice, by=None, shipment=shipment_notice(po, line1="10"), channel="web")
    assert all(o.delivered for _, o in deliver_new_events(connector, since))  # the submission, then the replacement

    (shipment,) = shipments(tryton, "ASN-T1")
    assert shipment["moves"] == [(ids["product_t1"], 4.0, "draft"), (ids["product_t1"], 6.0, "draft")]
    _, second = purchase_lines(tryton, purchase)
    # Back on its purchase line, planned for the promised date again rather than the notice's arrival.
    assert [(m["quantity"], m["shipment"], m["planned_date"]) for m in second["moves"]] == [(4.0, None, NEED_BY)]

    since = last_event_id()
    shipment_notice_cancel(
        notice=ShipmentNotice.objects.get(pk=replaced.pk), by=None, reason="Truck broke down", channel="web"
    )
    assert all(o.delivered for _, o in deliver_new_events(connector, since))

    (cancelled,) = shipments(tryton, "ASN-T1")
    assert (cancelled["state"], cancelled["moves"]) == ("cancelled", [])
    first, second = purchase_lines(tryton, purchase)
    assert {(m["state"], m["shipment"], m["planned_date"]) for m in first["moves"]} == {("draft", None, LINE_DATE)}
    assert {(m["state"], m["shipment"], m["planned_date"]) for m in second["moves"]} == {("draft", None, NEED_BY)}


# --- failures ----------------------------------------------------------------------------------------


def test_an_unmapped_supplier_fails_for_good_naming_it(tryton, connector, portal, imported):
    _, po = imported
    accept_all(po)
    since = last_event_id()
    TrytonMapping.objects.filter(connector=connector, kind="supplier").delete()

    shipment_notice_submit(supplier=portal.supplier, by=None, shipment=shipment_notice(po, line1="10"), channel="web")
    ((_, outcome),) = deliver_new_events(connector, since)

    assert outcome.permanent
    assert "Supplier ACME is not mapped to a Tryton party" in outcome.error
    assert shipments(tryton, "ASN-T1") == []


def test_an_unmapped_site_fails_for_good_until_the_connector_has_a_default_warehouse(
    tryton, connector, portal, imported
):
    _, po = imported
    accept_all(po)
    since = last_event_id()
    TrytonMapping.objects.filter(connector=connector, kind="site").delete()
    shipment_notice_submit(supplier=portal.supplier, by=None, shipment=shipment_notice(po, line1="10"), channel="web")
    event = OutboxEvent.objects.get(pk__gt=since)

    refused = connector_for(connector).deliver(cloudevent(event))
    connector.config = {**connector.config, "warehouse": "WH"}
    delivered = connector_for(connector).deliver(cloudevent(event))

    assert refused.permanent
    assert "Site WH is not mapped to a Tryton warehouse and the connector has no default warehouse" in refused.error
    assert delivered.delivered
    assert [s["warehouse"] for s in shipments(tryton, "ASN-T1")] == [tryton.ids["warehouse"]]


def test_tryton_refusing_the_shipment_fails_for_good_with_its_reason(tryton, connector, portal, imported):
    _, po = imported
    accept_all(po)
    since = last_event_id()
    other = _second_warehouse(tryton)
    TrytonMapping.objects.filter(connector=connector, kind="site").update(tryton_id=other)

    shipment_notice_submit(supplier=portal.supplier, by=None, shipment=shipment_notice(po, line1="10"), channel="web")
    ((_, outcome),) = deliver_new_events(connector, since)

    assert outcome.permanent
    assert outcome.error.startswith("UserError: ")
    assert shipments(tryton, "ASN-T1") == []


def _second_warehouse(tryton: TrytonServer) -> int:
    """A second Tryton warehouse: the purchase's moves go to the first, so a shipment into this one is refused."""
    storage = [{"name": name, "type": "storage"} for name in ("Input 2", "Output 2", "Storage 2")]
    input_, output, stock = tryton.client.create("stock.location", storage)
    (warehouse,) = tryton.client.create(
        "stock.location",
        [
            {
                "name": "Warehouse 2",
                "code": "WH2",
                "type": "warehouse",
                "input_location": input_,
                "output_location": output,
                "storage_location": stock,
            }
        ],
    )
    return warehouse


def test_a_stopped_tryton_is_retried(tryton, connector, imported):
    _, po = imported
    since = last_event_id()
    accept_all(po)
    tryton.stop()

    ((_, outcome),) = deliver_new_events(connector, since)

    assert not outcome.delivered
    assert not outcome.permanent
    assert outcome.error.startswith("network: ")


def test_a_refused_login_fails_for_good(tryton, connector, imported):
    _, po = imported
    since = last_event_id()
    accept_all(po)
    connector.config = {**connector.config, "password": "wrong"}

    ((_, outcome),) = deliver_new_events(connector, since)

    assert outcome.permanent
    assert "refused the login" in outcome.error


def test_the_configuration_names_each_wrong_setting():
    with pytest.raises(ValidationError) as error:
        TrytonConnector.validate_config({"url": "erp.local", "database": "", "username": "admin", "warehouse": 5})

    assert set(error.value.message_dict) == {"url", "database", "password", "warehouse"}
    TrytonConnector.validate_config(
        {"url": "http://erp.local:8000", "database": "prod", "username": "admin", "password": "s", "warehouse": "WH"}
    )


def test_a_tryton_user_in_the_purchase_and_stock_groups_is_enough(tryton, connector, portal):
    groups = tryton.client.search_read("res.group", [("name", "in", ["Purchase", "Stock"])], ["id"])
    (user,) = tryton.client.create(
        "res.user",
        [
            {
                "name": "Supplyline connector",
                "login": "supplyline",
                "password": "Connector-pass-8",
                "companies": [["add", [tryton.ids["company"]]]],
                "company": tryton.ids["company"],
                "groups": [["add", [g["id"] for g in groups]]],
            }
        ],
    )
    connector.config = {**connector.config, "username": "supplyline", "password": "Connector-pass-8"}
    connector.save(update_fields=["config"])
    purchase = confirmed_purchase(tryton)
    tryton_pull(connector)
    po = PurchaseOrder.objects.get(erp_id=f"tryton:{purchase}")
    since = last_event_id()

    later = LINE_DATE + dt.timedelta(days=1)
    answer(po, LineDecision(1, "change", deliveries=(Delivery(Decimal(10), later),)), LineDecision(2, "accept"))
    notice = shipment_notice_submit(
        supplier=portal.supplier, by=None, shipment=shipment_notice(po, line1="4", line2="4"), channel="web"
    )
    shipment_notice_cancel(notice=notice, by=None, reason="Wrong truck", channel="web")
    outcomes = deliver_new_events(connector, since)

    assert [o.error for _, o in outcomes if not o.delivered] == []
    assert purchase_lines(tryton, purchase)[0]["delivery_date"] == later
    assert [s["state"] for s in shipments(tryton, "ASN-T1")] == ["cancelled"]
    assert tryton.client.read("res.user", [user], ["login"])[0]["login"] == "supplyline"
