"""Helpers for the exception rules' tests: POs to answer, and the integration engine delivering their events."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

from django.apps import apps
from django.utils import timezone

from exceptions.models import CaseActivity, ExceptionCase
from planning_sync import delivery
from planning_sync.models import Connector, Delivery
from purchasing.documents.shapes import ShipmentInput, ShipmentLineInput
from purchasing.models import PurchaseOrder, PurchaseOrderLine
from purchasing.rules import Delivery as Promise
from purchasing.services import LineDecision, acknowledgement_submit
from purchasing.services.shipments import shipment_notice_submit
from suppliers.models import Supplier, User
from tests.factories import PurchaseOrderFactory, PurchaseOrderLineFactory

TODAY = timezone.localdate()
NEED_BY = TODAY + dt.timedelta(days=21)
RULES_CONNECTOR = importlib.import_module("exceptions.migrations.0002_exception_rules_connector")


def rules_connector() -> Connector:
    """The built-in exception-rules connector, as its migration makes it (another test's flush may remove it)."""
    RULES_CONNECTOR.create(apps, None)
    connector = Connector.objects.get(name=RULES_CONNECTOR.NAME)
    if not connector.is_enabled:
        connector.is_enabled = True
        connector.save(update_fields=["is_enabled"])
    return connector


def run_rules() -> int:
    """The integration engine delivers every pending event to the exception rules, as a worker would.

    Fails the test when a rule raised: the engine would have recorded it as a failed attempt.
    """
    tried = delivery.dispatch(priority=None, budget_s=10)
    failed = Delivery.objects.filter(connector__kind="exceptions").exclude(status=Delivery.Status.DELIVERED)
    assert not failed.exists(), [d.last_error for d in failed]
    return tried


def replay_rules() -> None:
    """Every event delivered to the rules again, as a replay from the monitor would: the rules must change nothing."""
    delivery.replay(Delivery.objects.filter(connector__kind="exceptions"))
    run_rules()


def issued_po(supplier: Supplier, number: str = "PO-100001", *lines: tuple[int, str, str]) -> PurchaseOrder:
    """An issued PO to answer: lines as (line number, quantity, unit price), each needed by ``NEED_BY``."""
    po = PurchaseOrderFactory.create(supplier=supplier, number=number)
    for line_number, quantity, price in lines or ((10, "100", "10.00"), (20, "50", "4.00")):
        PurchaseOrderLineFactory.create(
            po=po,
            line_number=line_number,
            ordered_quantity=Decimal(quantity),
            unit_price=Decimal(price),
            need_by_date=NEED_BY,
        )
    return po


def answer(po: PurchaseOrder, by: User | None, *decisions: LineDecision) -> None:
    """The supplier answers every line awaiting an answer: the given decisions, and accept for the rest."""
    given = {d.line_number for d in decisions}
    waiting = po.lines.filter(status__in=("issued", "revised")).values_list("line_number", flat=True)
    rest = [LineDecision(line_number=n, action="accept") for n in waiting if n not in given]
    acknowledgement_submit(po=po, by=by, decisions=[*decisions, *rest], channel="web", expected_version=None)


def promise(line_number: int, days_after_need_by: int, quantity: str = "100") -> LineDecision:
    """Move the line's delivery relative to its need-by date."""
    when = NEED_BY + dt.timedelta(days=days_after_need_by)
    return LineDecision(line_number=line_number, action="change", deliveries=(Promise(Decimal(quantity), when),))


def ship(supplier: Supplier, number: str, *lines: tuple[str, int, str], **header: object) -> None:
    """A loose shipment notice (no packages) of (PO number, line number, quantity), shipped today."""
    shipment = ShipmentInput(
        number=number,
        ship_date=TODAY,
        estimated_arrival=header.pop("estimated_arrival", TODAY + dt.timedelta(days=2)),  # type: ignore[arg-type]
        lines=tuple(ShipmentLineInput(po, line, Decimal(quantity)) for po, line, quantity in lines),
        **header,  # type: ignore[arg-type]
    )
    shipment_notice_submit(supplier=supplier, by=None, shipment=shipment, channel="web")


def line_of(po: PurchaseOrder, number: int) -> PurchaseOrderLine:
    return PurchaseOrderLine.objects.get(po=po, line_number=number)


def case_of(key: str) -> ExceptionCase:
    """The one case ever opened for ``key`` (fails if there are several)."""
    return ExceptionCase.objects.get(dedupe_key=key)


def kinds(case: ExceptionCase) -> list[str]:
    return list(CaseActivity.objects.filter(case=case).order_by("at", "id").values_list("kind", flat=True))
