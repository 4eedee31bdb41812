"""Supply risk: the projected availability of an item at a site, recomputed on every change that touches it.

Every event that moves supply or demand of an item at a site (a promise, a split, a rejection, a
cancellation, a shipment notice, a receipt, on-hand, demand or safety stock) reaches the handlers at
the end of this module through the exception-rules connector. They recompute the projection of the
touched (item, site) pairs only, compare it with the last one (``ProjectionSnapshot``) and:

- open a supply-risk case when the projection now falls below safety stock (or below zero) on a day
  where it did not before, alert its buyer and record ``supply.risk.detected`` for the planning system;
- keep an open case up to date while the projection still breaches, without alerting again;
- clear the case when the projection no longer breaches on a day where it did not before the change
  that raised the case (a breach that was there before, say one a buyer accepted, does not keep it open).

A breach that was already there before the change opens nothing: it was not caused by this change,
and its case (if a buyer closed it) stays closed. ``supply_risk_baseline`` stores a first snapshot
without acting, so that the first change of a pair is not blamed for every breach it already had.
docs/supply-risk.md explains the model.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from exceptions.handlers import Envelope, handles
from exceptions.models import CaseType, ExceptionCase, ProjectionSnapshot, Severity
from exceptions.projection import (
    DEFAULT_WEEKS,
    ZERO,
    DemandLine,
    Projection,
    Supply,
    new_breach_dates,
    open_deliveries,
    project,
)
from exceptions.services import Concern, Finding, case_alert, case_clear, case_raise
from exceptions.thresholds import rule_for
from planning_sync.outbox import record_event
from purchasing.models import (
    AcknowledgementLine,
    Demand,
    InventoryBalance,
    Item,
    LineStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    SafetyStock,
    ShipmentLine,
    ShipmentStatus,
    Site,
)
from purchasing.rules import LineTerms
from purchasing.services import current_terms
from suppliers.models import Supplier, SupplierItem

logger = logging.getLogger("supplyline.exceptions")

WEEKS_SETTING = "SUPPLYLINE_PROJECTION_WEEKS"
# Lines whose quantity is still expected: answered or not (an unanswered line is due on its need-by
# date), but not rejected by the supplier, and not yet received, closed or cancelled.
SUPPLYING = (
    LineStatus.ISSUED,
    LineStatus.REVISED,
    LineStatus.CHANGES_PENDING,
    LineStatus.ACKNOWLEDGED,
    LineStatus.PARTIALLY_SHIPPED,
    LineStatus.SHIPPED,
)
IN_TRANSIT = (ShipmentStatus.SUBMITTED, ShipmentStatus.IN_TRANSIT)
# Severity (docs/supply-risk.md): a shortage this long raises it one level.
LONG_SHORTAGE_DAYS = 7


def horizon_weeks() -> int:
    weeks = getattr(settings, WEEKS_SETTING, DEFAULT_WEEKS)
    if not isinstance(weeks, int) or weeks < 1:
        raise ImproperlyConfigured(f"{WEEKS_SETTING} must be a whole number of weeks, at least 1 (not {weeks!r}).")
    return weeks


def site_today(site: Site) -> dt.date:
    """Today at the site: demand and promises are dates in the warehouse's calendar."""
    return timezone.localdate(timezone=zoneinfo.ZoneInfo(site.timezone))


def dedupe_key(site: Site, item: Item) -> str:
    return f"supply_risk:{site.code}:{item.sku}"


# --- reading the projection ------------------------------------------------------------


def projection_for(item: Item, site: Site, *, start: dt.date | None = None, weeks: int | None = None) -> Projection:
    """The projection of ``item`` at ``site`` from the site's today over the horizon: six queries, whatever the data."""
    start = start or site_today(site)
    weeks = weeks or horizon_weeks()
    end = start + dt.timedelta(days=weeks * 7 - 1)
    on_hand, safety_stock = _stock(item, site)
    return project(
        on_hand=on_hand,
        safety_stock=safety_stock,
        supply=[*_line_supply(item, site), *_shipment_supply(item, site)],
        demand=_demand(item, site, end),
        start=start,
        weeks=weeks,
    )


def _stock(item: Item, site: Site) -> tuple[Decimal, Decimal]:
    """On hand and safety stock (zero when the feeds never sent them), in one query."""
    here = {"item": OuterRef("pk"), "site": site}
    on_hand, safety_stock = (
        Item.objects.filter(pk=item.pk)
        .annotate(
            on_hand=Subquery(InventoryBalance.objects.filter(**here).values("quantity")[:1]),
            safety=Subquery(SafetyStock.objects.filter(**here).values("quantity")[:1]),
        )
        .values_list("on_hand", "safety")
        .get()
    )
    return on_hand or ZERO, safety_stock or ZERO


def _line_supply(item: Item, site: Site) -> Iterator[Supply]:
    """What the open PO lines still bring, by delivery date: three queries (lines, schedule lines, proposals)."""
    pending = AcknowledgementLine.objects.filter(outcome=AcknowledgementLine.Outcome.PENDING)
    lines = (
        PurchaseOrderLine.objects.filter(item=item, po__site=site, status__in=SUPPLYING)
        .select_related("po")
        .prefetch_related("schedule_lines", Prefetch("answers", queryset=pending, to_attr="pending_answers"))
    )
    for line in lines:
        # Shipped quantities move to their notices (counted below while in transit); goods received
        # without a notice are in the on-hand count.
        done = max(line.shipped_quantity, line.received_quantity)
        terms = _expected_terms(line)
        label = f"{line.po.number} line {line.line_number}{_qualifier(line)}"
        for date, quantity in open_deliveries([(d.date, d.quantity) for d in terms.deliveries], done):
            yield Supply(date, quantity, label, line.po_id)


def _expected_terms(line: PurchaseOrderLine) -> LineTerms:
    """The supplier's latest word: a change proposed beyond tolerance is what the supplier will do, approved or not."""
    proposal = next((a for a in line.pending_answers if a.action == AcknowledgementLine.Action.CHANGE), None)  # type: ignore[attr-defined]
    return LineTerms.from_json(proposal.proposed) if proposal else current_terms(line)


def _qualifier(line: PurchaseOrderLine) -> str:
    if line.status == LineStatus.CHANGES_PENDING:
        return " (as proposed, awaiting buyer)"
    if line.is_awaiting_answer:
        return " (not yet acknowledged)"
    return ""


def _shipment_supply(item: Item, site: Site) -> Iterator[Supply]:
    """What the notices not yet received bring, by estimated arrival (the ship date when none is given)."""
    rows = ShipmentLine.objects.filter(
        po_line__item=item, shipment__site=site, shipment__status__in=IN_TRANSIT
    ).values_list(
        "quantity",
        "received_quantity",
        "shipment__number",
        "shipment__estimated_arrival",
        "shipment__ship_date",
        "po_line__po__number",
        "po_line__line_number",
        "po_line__po_id",
    )
    for quantity, received, number, arrival, ship_date, po_number, line_number, po_id in rows:
        left = quantity - (received or ZERO)
        if left > 0:
            yield Supply(arrival or ship_date, left, f"ASN {number} ({po_number} line {line_number})", po_id)


def _demand(item: Item, site: Site, end: dt.date) -> list[DemandLine]:
    rows = Demand.objects.filter(item=item, site=site, date__lte=end).values_list(
        "date", "quantity", "priority", "customer_reference", "kind", "external_id"
    )
    return [DemandLine(*row) for row in rows]


# --- severity and alternates ---------------------------------------------------------------


def risk_severity(projection: Projection) -> tuple[int, list[str]]:
    """The case's severity and why: LOW, one level up for each point, CRITICAL at three or more.

    One point when the balance falls below zero (customers go short, not only safety stock); one when
    it stays below safety stock for LONG_SHORTAGE_DAYS days or more; two when demand of priority 1 is
    at risk, one for priority 2 or 3.
    """
    points, reasons = 0, []
    if projection.first_below_zero is not None:
        points += 1
        reasons.append(f"out of stock from {projection.first_below_zero.isoformat()}")
    if projection.days_short >= LONG_SHORTAGE_DAYS:
        points += 1
        reasons.append(f"below safety stock {projection.days_short} days")
    priority = projection.highest_priority_at_risk
    if priority is not None and priority <= 3:
        points += 2 if priority == 1 else 1
        reasons.append(f"priority {priority} demand at risk")
    return max(Severity.CRITICAL, Severity.LOW - points), reasons


def alternate_sources(item: Item, *, excluding: int | None, today: dt.date) -> list[dict[str, Any]]:
    """Other suppliers of the item and the earliest each could deliver if ordered today (one query)."""
    offers = (
        SupplierItem.objects.filter(item=item, supplier__status__in=(Supplier.Status.ACTIVE, Supplier.Status.ON_HOLD))
        .select_related("supplier")
        .order_by("lead_time_days", "price", "supplier__code")
    )
    if excluding is not None:
        offers = offers.exclude(supplier_id=excluding)
    return [
        {
            "supplier": offer.supplier.code,
            "supplier_name": offer.supplier.name,
            "on_hold": offer.supplier.status == Supplier.Status.ON_HOLD,
            "supplier_part_number": offer.supplier_part_number,
            "lead_time_days": offer.lead_time_days,
            "price": f"{offer.price:f}",
            "currency": offer.currency,
            "minimum_order_quantity": f"{offer.minimum_order_quantity:f}",
            "earliest_delivery": (today + dt.timedelta(days=offer.lead_time_days)).isoformat(),
        }
        for offer in offers
    ]


# --- recomputing -----------------------------------------------------------------------


@dataclass(frozen=True)
class Cause:
    """The change a recompute follows: the event, and who (which supplier, PO, notice) made it."""

    event_type: str = ""
    subject: str = ""
    event_id: str = ""
    supplier_id: int | None = None
    po_id: int | None = None
    shipment_id: int | None = None

    def describe(self) -> str:
        if not self.event_type:
            return "a recompute"
        short = self.event_type.removeprefix("supplyline.").rsplit(".v", 1)[0]
        return f"{short} of {self.subject}" if self.subject else short

    def as_json(self) -> dict[str, Any] | None:
        if not self.event_type:
            return None
        return {"type": self.event_type, "subject": self.subject, "event_id": self.event_id}


@transaction.atomic
def supply_risk_recompute(*, item: Item, site: Site, cause: Cause | None = None) -> ExceptionCase | None:
    """Recompute the projection of ``item`` at ``site`` and act on what changed; returns the case touched.

    Locks the pair's snapshot row, so two recomputes of one pair run one after the other and each
    compares with what the other left. Idempotent: recomputing with nothing changed finds no new
    breach, so a redelivered event opens nothing and alerts nobody.
    """
    cause = cause or Cause()
    today = site_today(site)
    snapshot, _ = ProjectionSnapshot.objects.select_for_update().get_or_create(
        item=item, site=site, defaults={"start": today}
    )
    projection = projection_for(item, site, start=today)
    new_dates = new_breach_dates(
        projection,
        before_start=snapshot.start if snapshot.balances else None,
        before_balances=snapshot.balance_values,
        before_safety_stock=snapshot.safety_stock,
    )
    before = _series(snapshot.start, snapshot.safety_stock, snapshot.balance_values) if snapshot.balances else None
    case = _act(item, site, projection, new_dates, before, cause)
    _remember(snapshot, projection)
    return case


def _act(
    item: Item,
    site: Site,
    projection: Projection,
    new_dates: list[dt.date],
    before: dict[str, Any] | None,
    cause: Cause,
) -> ExceptionCase | None:
    key = dedupe_key(site, item)
    open_case = ExceptionCase.objects.unresolved().filter(dedupe_key=key).first()
    if open_case is not None and not _own_breach_dates(open_case, projection):
        # What the case was raised for is gone, even if a breach that was there before it remains.
        cleared = case_clear(key, note=_cleared_note(open_case, projection, cause))
        if not new_dates:
            return cleared
        open_case = None  # this change breaches somewhere else: a case of its own, with its own story
    if not new_dates:
        if open_case is None:
            return None  # it breached there before this change too: not this change's doing
        # Still short where it was raised: keep the case's figures current, and its story (what raised it) as it was.
        details = open_case.details
        story = (details.get("before"), details.get("cause"), details.get("new_breach_from"))
        return case_raise(_finding(item, site, projection, *story, Cause(supplier_id=open_case.supplier_id)))
    assignee = None
    if open_case is None:
        rule = rule_for(CaseType.SUPPLY_RISK, supplier_id=cause.supplier_id, site_id=site.pk)
        if projection.shortfall < rule.threshold:
            return None
        assignee = responsible_buyer(item, site, projection, cause)
    # A case already open keeps the story of the change that raised it; its figures follow this one.
    raised_by = open_case.details.get("cause") if open_case else cause.as_json()
    kept_before = open_case.details.get("before") if open_case else before
    finding = _finding(item, site, projection, kept_before, raised_by, new_dates[0].isoformat(), cause, assignee)
    case = case_raise(finding)
    if case is None:
        return None  # the rule is switched off for this supplier or site
    case_alert(case, reason=_alert_note(case))
    record_event("supply.risk.detected", subject=case, data=_event_data(case, projection, cause))
    logger.info("supply risk detected", extra={"case": case.pk, "key": key, "new_from": new_dates[0].isoformat()})
    return case


def _own_breach_dates(case: ExceptionCase, projection: Projection) -> list[dt.date]:
    """The days the projection still breaches where it did not before the change that raised ``case``.

    Compared with the balances the case stored from before that change, not with the last snapshot: a
    breach that was there before (one a buyer accepted) is not the case's, and must not keep it open.
    A case raised with no earlier projection has no ``before``: every breach is its own.
    """
    before = case.details.get("before")
    if not before:
        return new_breach_dates(projection, before_start=None, before_balances=(), before_safety_stock=ZERO)
    return new_breach_dates(
        projection,
        before_start=dt.date.fromisoformat(before["start"]),
        before_balances=[Decimal(balance) for balance in before["balances"]],
        before_safety_stock=Decimal(before["safety_stock"]),
    )


def _cleared_note(case: ExceptionCase, projection: Projection, cause: Cause) -> str:
    if not projection.breaches:
        return f"The projection no longer falls below safety stock, after {cause.describe()}."
    raised_after = case.details.get("raised_after") or "the change that raised this case"
    return (
        f"The shortage this case was raised for is gone, after {cause.describe()}: the projection still falls "
        f"below safety stock from {_iso(projection.first_below_safety)}, but only where it did before {raised_after}."
    )


def responsible_buyer(item: Item, site: Site, projection: Projection, cause: Cause) -> int | None:
    """Who should work a new case the change's PO or supplier does not name (a stock, demand or safety-stock change).

    The active buyer of the PO that supplies the item at the site soonest (by the projection's delivery
    dates; an open line due only past the horizon by its need-by date), else of the supplier that sells
    the item with the shortest lead time; None (the case waits unassigned) when there is neither. A
    change by a PO or supplier returns None: ``case_raise`` assigns the PO's buyer, else the supplier's.
    """
    if cause.po_id is not None or cause.supplier_id is not None:
        return None
    po_ids = list(dict.fromkeys(s.po_id for day in projection.days for s in day.supplies if s.po_id is not None))
    if po_ids:
        buyers = dict(PurchaseOrder.objects.filter(pk__in=po_ids, buyer__is_active=True).values_list("pk", "buyer_id"))
        soonest = next((buyers[po_id] for po_id in po_ids if po_id in buyers), None)
        if soonest is not None:
            return soonest
    later: int | None = (
        PurchaseOrderLine.objects.filter(item=item, po__site=site, status__in=SUPPLYING, po__buyer__is_active=True)
        .order_by("need_by_date", "po_id")
        .values_list("po__buyer_id", flat=True)
        .first()
    )
    if later is not None:
        return later
    seller: int | None = (
        SupplierItem.objects.filter(
            item=item,
            supplier__status__in=(Supplier.Status.ACTIVE, Supplier.Status.ON_HOLD),
            supplier__buyer__is_active=True,
        )
        .order_by("lead_time_days", "price", "supplier__code")
        .values_list("supplier__buyer_id", flat=True)
        .first()
    )
    return seller


def _finding(
    item: Item,
    site: Site,
    projection: Projection,
    before: dict[str, Any] | None,
    raised_by: dict[str, Any] | None,
    new_from: str | None,
    cause: Cause,
    assignee: int | None = None,
) -> Finding:
    severity, reasons = risk_severity(projection)
    raised_after = Cause(raised_by["type"], raised_by["subject"]).describe() if raised_by else ""
    title, summary = _words(item, site, projection, raised_after)
    uom = item.unit_of_measure
    at_risk = projection.demand_at_risk
    details = {
        "item_sku": item.sku,
        "item_description": item.description,
        "unit_of_measure": uom,
        "site": site.code,
        "on_hand": _qty(projection.on_hand),
        "safety_stock": _qty(projection.safety_stock),
        "first_below_safety": _iso(projection.first_below_safety),
        "first_below_zero": _iso(projection.first_below_zero),
        "new_breach_from": new_from,
        "shortfall": _qty(projection.shortfall),
        "days_short": projection.days_short,
        "lowest_balance": _qty(projection.lowest_balance),
        "highest_priority": projection.highest_priority_at_risk,
        "severity_reasons": reasons,
        "demand_at_risk": [_risk_json(risk.demand, risk.short) for risk in at_risk],
        "alternates": alternate_sources(item, excluding=cause.supplier_id, today=projection.start),
        "cause": raised_by,
        "raised_after": raised_after,
        "before": before,
        "after": _series(projection.start, projection.safety_stock, projection.balances),
    }
    concern = Concern(supplier=cause.supplier_id, po=cause.po_id, shipment=cause.shipment_id, item=item, site=site)
    return Finding(
        CaseType.SUPPLY_RISK, dedupe_key(site, item), title, summary, concern, details, severity, assignee=assignee
    )


def _words(item: Item, site: Site, projection: Projection, raised_after: str) -> tuple[str, str]:
    """The case's title and summary, in the buyer's words."""
    where, uom = f"{item.sku} at {site.code}", item.unit_of_measure
    if projection.first_below_zero is not None:
        title = f"{where}: out of stock from {projection.first_below_zero.isoformat()}"
    else:
        title = f"{where}: below safety stock from {_iso(projection.first_below_safety)}"
    summary = (
        f"The projected balance of {where} falls below safety stock ({_plain(projection.safety_stock)} {uom}) "
        f"on {_iso(projection.first_below_safety)}: short {_plain(projection.shortfall)} {uom} at worst, "
        f"{_count(projection.days_short, 'day')} below safety stock, "
        f"{_count(len(projection.demand_at_risk), 'demand line')} at risk."
    )
    if raised_after:
        summary += f" Found after {raised_after}."
    return title, summary


def _risk_json(demand: DemandLine, short: Decimal) -> dict[str, Any]:
    return {
        "external_id": demand.reference,
        "date": demand.date.isoformat(),
        "quantity": _qty(demand.quantity),
        "short": _qty(short),
        "priority": demand.priority,
        "kind": demand.kind,
        "customer_reference": demand.customer_reference,
    }


def _series(start: dt.date, safety_stock: Decimal, balances: Iterable[Decimal]) -> dict[str, Any]:
    """A projection's balances as stored in a case, for its before-and-after chart."""
    return {"start": start.isoformat(), "safety_stock": _qty(safety_stock), "balances": [_qty(b) for b in balances]}


def _remember(snapshot: ProjectionSnapshot, projection: Projection) -> None:
    for name in _SNAPSHOT_FIGURES:
        setattr(snapshot, name, getattr(projection, name))
    snapshot.balances = [_qty(b) for b in projection.balances]
    snapshot.computed_at = timezone.now()
    snapshot.save(update_fields=[*_SNAPSHOT_FIGURES, "balances", "computed_at"])


# The snapshot's figures, each named as the projection's property it is taken from.
_SNAPSHOT_FIGURES = (
    "start",
    "on_hand",
    "safety_stock",
    "first_below_safety",
    "first_below_zero",
    "shortfall",
    "days_short",
)


def _alert_note(case: ExceptionCase) -> str:
    details = case.details
    lines = [f"Why {case.get_severity_display().lower()}: {', '.join(details['severity_reasons']) or 'a short dip'}."]
    for risk in details["demand_at_risk"][:5]:
        reference = risk["customer_reference"] or risk["external_id"]
        short, quantity = _plain(Decimal(risk["short"])), _plain(Decimal(risk["quantity"]))
        lines.append(f"At risk: {short} of {quantity} on {risk['date']} ({reference}, priority {risk['priority']})")
    if details["alternates"]:
        best = details["alternates"][0]
        lines.append(
            f"{len(details['alternates'])} other suppliers; the soonest, {best['supplier']}, "
            f"could deliver by {best['earliest_delivery']}."
        )
    return "\n".join(lines)


def _event_data(case: ExceptionCase, projection: Projection, cause: Cause) -> dict[str, Any]:
    details = case.details
    return {
        "case_id": case.pk,
        "item_sku": details["item_sku"],
        "site": details["site"],
        "severity": Severity(case.severity).name.lower(),
        "on_hand": details["on_hand"],
        "safety_stock": details["safety_stock"],
        "first_below_safety": details["first_below_safety"],
        "first_below_zero": details["first_below_zero"],
        "shortfall": details["shortfall"],
        "days_short": projection.days_short,
        "demand_at_risk": details["demand_at_risk"],
        "cause": cause.as_json(),
    }


def _qty(value: Decimal) -> str:
    return f"{value:f}"


def _plain(value: Decimal) -> str:
    """A quantity as people write it in a sentence: 75, not 75.000."""
    return f"{value.normalize():f}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _iso(date: dt.date | None) -> str | None:
    return date.isoformat() if date else None


# --- the baseline: a snapshot of every pair before the rules go live ---------------------------

# Pairs read per query by ``baseline_pairs``: the baseline's memory does not grow with the catalogue.
BASELINE_CHUNK = 500


def _pair_sources() -> list[tuple[QuerySet[Any], str, str]]:
    """Where an (item, site) pair has something to project: each query, and its item and site fields."""
    return [
        (InventoryBalance.objects.all(), "item", "site"),
        (SafetyStock.objects.all(), "item", "site"),
        (Demand.objects.all(), "item", "site"),
        (PurchaseOrderLine.objects.filter(status__in=SUPPLYING), "item", "po__site"),
        (ShipmentLine.objects.filter(shipment__status__in=IN_TRANSIT), "po_line__item", "shipment__site"),
    ]


def baseline_pairs(
    *, site: Site | None = None, item: Item | None = None, after: tuple[int, int] = (0, 0)
) -> list[tuple[int, int]]:
    """The next ``BASELINE_CHUNK`` (item id, site id) pairs after ``after`` with stock, demand or open supply.

    In (item id, site id) order, each pair once: call again with the last pair returned until none is left.
    """
    item_after, site_after = after
    parts = []
    for queryset, item_field, site_field in _pair_sources():
        keyset = Q(**{f"{item_field}__gt": item_after}) | Q(**{item_field: item_after, f"{site_field}__gt": site_after})
        part = queryset.filter(keyset)
        if site is not None:
            part = part.filter(**{site_field: site})
        if item is not None:
            part = part.filter(**{item_field: item})
        parts.append(part.order_by().values_list(item_field, site_field))
    first, *rest = parts
    return list(first.union(*rest).order_by(*_pair_sources()[0][1:])[:BASELINE_CHUNK])


@transaction.atomic
def supply_risk_baseline(*, item: Item, site: Site) -> bool:
    """Store the projection of ``item`` at ``site`` as its snapshot, acting on nothing; False if it had one.

    For a pair never recomputed: its next change is then compared with this projection, so only what
    that change makes worse opens a case. A snapshot already there is kept: it is what the last change
    left, and an event on its way would otherwise be compared with a projection that already counts it.
    """
    today = site_today(site)
    snapshot, _ = ProjectionSnapshot.objects.select_for_update().get_or_create(
        item=item, site=site, defaults={"start": today}
    )
    if snapshot.balances:
        return False
    _remember(snapshot, projection_for(item, site, start=today))
    return True


# --- triggers: the events that move supply or demand ----------------------------------------


@handles(
    "po.issued",
    "po.acknowledged",
    "po.line.changed",
    "po.proposal.decided",
    "po.revised",
    "po.cancelled",
    "receipt.recorded",
)
def on_purchase_order_change(envelope: Envelope) -> None:
    """Recompute the items of the lines the event names (every line, for a new PO) at the PO's site."""
    data = envelope["data"]
    lines = PurchaseOrderLine.objects.filter(po__number=data["po_number"])
    numbers = _line_numbers(data)
    if numbers is not None:
        lines = lines.filter(line_number__in=numbers)
    rows = list(lines.values_list("item_id", "po__site_id", "po__supplier_id", "po_id"))
    if not rows:
        return
    _, _, supplier_id, po_id = rows[0]
    cause = _cause(envelope, supplier_id=supplier_id, po_id=po_id)
    _recompute({(item_id, site_id) for item_id, site_id, _, _ in rows}, cause)


def _line_numbers(data: dict[str, Any]) -> list[int] | None:
    """The lines an event is about: one, a list (of numbers or of line objects), or None for all of them."""
    if "line_number" in data:
        return [data["line_number"]]
    lines = data.get("lines")
    if not isinstance(lines, list):
        return None  # po.issued counts its lines: every line is new
    return [line if isinstance(line, int) else line["line_number"] for line in lines]


@handles("asn.submitted", "asn.replaced", "asn.cancelled", "asn.received")
def on_shipment_change(envelope: Envelope) -> None:
    """Recompute the items of the notice, and of the notice it replaced (same number), at its site."""
    data = envelope["data"]
    rows = list(
        ShipmentLine.objects.filter(shipment__supplier__code=data["supplier"], shipment__number=data["asn_number"])
        .order_by("-shipment_id")
        .values_list("po_line__item_id", "shipment__site_id", "shipment__supplier_id", "shipment_id")
    )
    if not rows:
        return
    _, _, supplier_id, shipment_id = rows[0]  # the latest notice of the number: the one the event is about
    cause = _cause(envelope, supplier_id=supplier_id, shipment_id=shipment_id)
    _recompute({(item_id, site_id) for item_id, site_id, _, _ in rows}, cause)


@handles("inventory.changed", "demand.changed", "safety_stock.changed")
def on_stock_or_demand_change(envelope: Envelope) -> None:
    """Recompute the item at the site the event names (and where a moved demand was before)."""
    data = envelope["data"]
    places = {(data["item_sku"], data["site"])}
    if data.get("previous"):
        places.add((data["previous"]["item_sku"], data["previous"]["site"]))
    items = dict(Item.objects.filter(sku__in={sku for sku, _ in places}).values_list("sku", "pk"))
    sites = dict(Site.objects.filter(code__in={code for _, code in places}).values_list("code", "pk"))
    pairs = {(items[sku], sites[code]) for sku, code in places if sku in items and code in sites}
    _recompute(pairs, _cause(envelope))


def _cause(envelope: Envelope, **who: int | None) -> Cause:
    return Cause(
        event_type=envelope.get("type", ""),
        subject=envelope.get("subject") or "",
        event_id=envelope.get("id", ""),
        **who,
    )


def _recompute(pairs: set[tuple[int, int]], cause: Cause) -> None:
    """Recompute each pair, in a fixed order so that two events touching the same pairs lock them alike."""
    items = Item.objects.in_bulk({item_id for item_id, _ in pairs})
    sites = Site.objects.in_bulk({site_id for _, site_id in pairs})
    for item_id, site_id in sorted(pairs):
        supply_risk_recompute(item=items[item_id], site=sites[site_id], cause=cause)
