"""The rules about shipment notices: quantities that differ from the PO, notices not received."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from exceptions.handlers import Envelope, handles
from exceptions.models import CaseType, ExceptionCase
from exceptions.rules.base import Outcome, Rules, apply_outcomes, day, pct
from exceptions.rules.orders import asn_late_outcome, line_key, lines_of
from exceptions.services import Concern, Finding
from exceptions.thresholds import Rule
from purchasing.models import LineStatus, PurchaseOrder, PurchaseOrderLine, ShipmentLine, ShipmentNotice, ShipmentStatus
from purchasing.rules import decimal_text, percent_change
from purchasing.services import current_terms

# A notice line on a PO line in one of these states was not expected (the line awaits an answer, or is gone).
UNEXPECTED = (
    LineStatus.ISSUED,
    LineStatus.REVISED,
    LineStatus.CHANGES_PENDING,
    LineStatus.REJECTED,
    LineStatus.CANCELLED,
)


def notice_key(rule: str, notice: ShipmentNotice) -> str:
    # ASN numbers are unique per supplier only; a replacement keeps the number, and so the case.
    return f"{rule}:{notice.supplier.code}:{notice.number}"


def _notice_lines(notice: ShipmentNotice) -> list[ShipmentLine]:
    # Each PO line's deliveries give what was due by the notice's arrival (current_terms reads them).
    shipped = notice.lines.select_related("po_line__po", "po_line__item").prefetch_related("po_line__schedule_lines")
    return list(shipped.order_by("position"))


def mismatch_outcome(notice: ShipmentNotice, shipped: Sequence[ShipmentLine], rule: Rule) -> Outcome:
    """What each PO line on the notice was due against what the notice ships of it."""
    if notice.status in ShipmentNotice.INACTIVE_STATUSES:
        return f"Shipment notice {notice.number} was {notice.get_status_display().lower()}."
    quantities: dict[int, Decimal] = defaultdict(Decimal)
    lines: dict[int, PurchaseOrderLine] = {}
    for entry in shipped:
        quantities[entry.po_line_id] += entry.quantity
        lines[entry.po_line_id] = entry.po_line
    arrival = notice.estimated_arrival or notice.ship_date
    before = _shipped_before(notice, list(quantities))
    differences = [
        (lines[pk], diff)
        for pk, quantity in quantities.items()
        if (diff := _line_difference(lines[pk], quantity, before.get(pk, Decimal(0)), arrival, rule)) is not None
    ]
    if not differences:
        return f"Shipment notice {notice.number} now ships what its PO lines are due."
    return _mismatch_finding(notice, differences, {line.po_id: line.po for line in lines.values()})


def _shipped_before(notice: ShipmentNotice, po_line_ids: list[int]) -> dict[int, Decimal]:
    """What the active notices that come before this one ship of each PO line: one query.

    Notices come in the order of their arrival (estimated, else the ship date), then submission,
    then id, as in the on-time KPI's running sum (``exceptions.kpis``): a later notice's quantity
    is not yet due by this one's arrival, so it must not count against it.
    """
    if not po_line_ids:
        return {}
    arrival = notice.estimated_arrival or notice.ship_date
    earlier = Q(arrival__lt=arrival) | Q(arrival=arrival, shipment__submitted_at__lt=notice.submitted_at)
    earlier |= Q(arrival=arrival, shipment__submitted_at=notice.submitted_at, shipment_id__lt=notice.pk)
    rows = (
        ShipmentLine.objects.filter(po_line_id__in=po_line_ids)
        .exclude(shipment__status__in=ShipmentNotice.INACTIVE_STATUSES)
        .exclude(shipment=notice)
        .alias(arrival=Coalesce("shipment__estimated_arrival", "shipment__ship_date"))
        .filter(earlier)
        .values("po_line_id")
        .annotate(quantity=Sum("quantity"))
        .values_list("po_line_id", "quantity")
    )
    return dict(rows)


def _line_difference(
    line: PurchaseOrderLine, quantity: Decimal, before: Decimal, arrival: dt.date, rule: Rule
) -> dict[str, str] | None:
    """The line's quantity on the notice against what was due by the notice's arrival, net of earlier notices."""
    found = {"po_number": line.po.number, "line_number": str(line.line_number), "shipped": decimal_text(quantity)}
    if line.status in UNEXPECTED:
        return found | {"expected": "0", "problem": f"the line is {line.get_status_display().lower()}"}
    due = Decimal(0)
    for delivery in current_terms(line).deliveries:  # in date order; the whole line on need-by if unpromised
        due += delivery.quantity
        if delivery.date >= arrival:
            break
    expected = max(Decimal(0), due - before)
    off = abs(percent_change(expected, quantity))
    if off <= rule.threshold:
        return None
    problem = f"{pct(off)}% {'more' if quantity > expected else 'less'} than due"
    return found | {"expected": decimal_text(expected), "problem": problem}


def _mismatch_finding(
    notice: ShipmentNotice,
    differences: list[tuple[PurchaseOrderLine, dict[str, str]]],
    pos: dict[int, PurchaseOrder],
) -> Finding:
    described = "; ".join(
        f"{d['po_number']} line {d['line_number']} ships {d['shipped']}, {d['expected']} expected ({d['problem']})"
        for _, d in differences
    )
    only_po = next(iter(pos.values())) if len(pos) == 1 else None
    only_line = differences[0][0] if len(differences) == 1 else None
    return Finding(
        type=CaseType.ASN_MISMATCH,
        key=notice_key(CaseType.ASN_MISMATCH, notice),
        title=f"ASN {notice.number} differs from {only_po.number if only_po else f'{len(pos)} purchase orders'}",
        summary=f"Shipment notice {notice.number} of {notice.supplier.code}: {described}.",
        concern=Concern(
            supplier=notice.supplier_id,
            po=only_po,
            po_line=only_line,
            shipment=notice,
            item=only_line.item_id if only_line else None,
            site=notice.site_id,
        ),
        details={
            # A replacement is a new notice: a person's resolution of the old one does not cover it.
            "episode": f"notice:{notice.pk}",
            "asn_number": notice.number,
            "lines": [d for _, d in differences],
        },
    )


def not_received_outcome(notice: ShipmentNotice, pos: Sequence[PurchaseOrder], rule: Rule, today: dt.date) -> Outcome:
    if notice.status not in ShipmentNotice.CHANGEABLE_STATUSES:
        return f"Shipment notice {notice.number} was {notice.get_status_display().lower()}."
    expected = notice.estimated_arrival or notice.ship_date
    if expected + dt.timedelta(days=rule.grace_days) >= today:
        return f"Shipment notice {notice.number} is expected on {day(expected)}, within its grace days."
    which = "estimated arrival" if notice.estimated_arrival else "ship date"
    return Finding(
        type=CaseType.SHIPMENT_NOT_RECEIVED,
        key=notice_key(CaseType.SHIPMENT_NOT_RECEIVED, notice),
        title=f"ASN {notice.number} not received (expected {day(expected)})",
        summary=f"Shipment notice {notice.number} of {notice.supplier.code} "
        f"({', '.join(po.number for po in pos)}) has not been received: its {which} was {day(expected)}, "
        f"and {rule.grace_days} grace days have passed.",
        concern=Concern(
            supplier=notice.supplier_id, po=pos[0] if len(pos) == 1 else None, shipment=notice, site=notice.site_id
        ),
        details={
            "episode": f"{notice.pk}:{day(expected)}",
            "asn_number": notice.number,
            "expected_date": day(expected),
            "grace_days": str(rule.grace_days),
        },
    )


def notice_check(supplier_code: str, number: str, *, now: dt.datetime | None = None) -> list[ExceptionCase]:
    """Re-evaluate a notice (the current one of that number) and the lateness of the PO lines it ships."""
    now = now or timezone.now()
    notice = (
        ShipmentNotice.objects.select_related("supplier")
        .filter(supplier__code=supplier_code, number=number)
        .exclude(status=ShipmentStatus.REPLACED)
        .first()
    )
    if notice is None:
        return []
    rules = Rules()
    shipped = _notice_lines(notice)
    scope = (notice.supplier_id, notice.site_id)
    pos = list({entry.po_line.po_id: entry.po_line.po for entry in shipped}.values())
    outcomes: dict[str, Outcome] = {
        notice_key(CaseType.ASN_MISMATCH, notice): mismatch_outcome(
            notice, shipped, rules(CaseType.ASN_MISMATCH, *scope)
        ),
        notice_key(CaseType.SHIPMENT_NOT_RECEIVED, notice): not_received_outcome(
            notice, pos, rules(CaseType.SHIPMENT_NOT_RECEIVED, *scope), timezone.localdate(now)
        ),
    }
    # The lines it ships, and those of the notice it replaced (their quantities left with it).
    touched = ShipmentLine.objects.filter(Q(shipment=notice) | Q(shipment_id=notice.replaces_id))
    lines = lines_of(PurchaseOrderLine.objects.filter(pk__in=touched.values("po_line_id")))
    today = timezone.localdate(now)
    for line in lines:
        rule = rules(CaseType.ASN_LATE, line.po.supplier_id, line.po.site_id)
        outcomes[line_key(CaseType.ASN_LATE, line)] = asn_late_outcome(line, rule, today)
    return apply_outcomes(outcomes)


@handles("asn.submitted", "asn.replaced", "asn.cancelled", "asn.received")
def on_notice_event(envelope: Envelope) -> None:
    data = envelope["data"]
    notice_check(data["supplier"], data["asn_number"])
