"""The rules about a PO and its lines: acknowledgement overdue, promises, quantities, prices, proposals, late ASNs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from exceptions.handlers import Envelope, handles
from exceptions.models import CaseType, ExceptionCase
from exceptions.rules.base import COMMITTED, FINISHED, PENDING, Outcome, Rules, apply_outcomes, day, line_concern, pct
from exceptions.services import Concern, Finding
from exceptions.thresholds import Rule
from purchasing.models import AcknowledgementLine, PurchaseOrder, PurchaseOrderLine, ScheduleLine
from purchasing.rules import decimal_text, percent_change

# --- acknowledgement overdue -------------------------------------------------------------------


def ack_key(po: PurchaseOrder) -> str:
    return f"{CaseType.ACK_OVERDUE}:{po.number}"


def ack_outcomes(pos: Iterable[PurchaseOrder], rules: Rules, now: dt.datetime) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    for po in pos:
        rule = rules(CaseType.ACK_OVERDUE, po.supplier_id, po.site_id)
        late_from = po.acknowledgement_due + dt.timedelta(days=rule.grace_days)
        if not po.is_awaiting_acknowledgement:
            outcomes[ack_key(po)] = f"{po.number} is {po.get_status_display().lower()}: it awaits no acknowledgement."
        elif now < late_from:
            late = late_from.isoformat(timespec="minutes")
            outcomes[ack_key(po)] = f"{po.number} awaits acknowledgement, overdue only from {late} (grace included)."
        else:
            outcomes[ack_key(po)] = _ack_finding(po, rule)
    return outcomes


def _ack_finding(po: PurchaseOrder, rule: Rule) -> Finding:
    due = po.acknowledgement_due.isoformat(timespec="minutes")
    grace = f" and {rule.grace_days} grace days" if rule.grace_days else ""
    return Finding(
        type=CaseType.ACK_OVERDUE,
        key=ack_key(po),
        title=f"{po.number} not acknowledged",
        summary=f"{po.supplier.code} has not acknowledged {po.number} (revision {po.revision}): the deadline "
        f"{due}{grace} passed.",
        concern=Concern(supplier=po.supplier_id, po=po, site=po.site_id),
        details={"episode": po.acknowledgement_due.isoformat(), "due": due, "grace_days": str(rule.grace_days)},
    )


# --- the lines of a PO: promises, quantities, prices, proposals, late notices --------------------


def line_key(rule: str, line: PurchaseOrderLine) -> str:
    return f"{rule}:{line.po.number}:{line.line_number}"


def _pending_answers(lines: Iterable[PurchaseOrderLine]) -> dict[int, AcknowledgementLine]:
    answers = AcknowledgementLine.objects.filter(line__in=list(lines), outcome=PENDING).select_related(
        "acknowledgement", "reason_code"
    )
    return {answer.line_id: answer for answer in answers}


def line_outcomes(
    lines: Sequence[PurchaseOrderLine], rules: Rules, now: dt.datetime, today: dt.date
) -> dict[str, Outcome]:
    """Every line rule for these lines (loaded with ``po__supplier``, ``item`` and schedule lines)."""
    answers = _pending_answers(lines)
    outcomes: dict[str, Outcome] = {}
    for line in lines:
        answer = answers.get(line.pk)
        scope = (line.po.supplier_id, line.po.site_id)
        outcomes[line_key(CaseType.PROMISE_AFTER_NEED, line)] = _promise(
            line, answer, rules(CaseType.PROMISE_AFTER_NEED, *scope)
        )
        outcomes[line_key(CaseType.QUANTITY_SHORT, line)] = _short(line, answer, rules(CaseType.QUANTITY_SHORT, *scope))
        outcomes[line_key(CaseType.PRICE_OUT_OF_TOLERANCE, line)] = _price(
            line, answer, rules(CaseType.PRICE_OUT_OF_TOLERANCE, *scope)
        )
        outcomes[line_key(CaseType.PROPOSAL_OVERDUE, line)] = _proposal_waiting(
            line, answer, rules(CaseType.PROPOSAL_OVERDUE, *scope), now
        )
        outcomes[line_key(CaseType.ASN_LATE, line)] = asn_late_outcome(line, rules(CaseType.ASN_LATE, *scope), today)
    return outcomes


def _gone(line: PurchaseOrderLine) -> str | None:
    if line.status in FINISHED:
        return f"Line {line.line_number} of {line.po.number} is {line.get_status_display().lower()}."
    return None


def _promise(line: PurchaseOrderLine, answer: AcknowledgementLine | None, rule: Rule) -> Outcome:
    name = f"Line {line.line_number} of {line.po.number}"
    if gone := _gone(line):
        return gone
    if answer is not None and answer.action == AcknowledgementLine.Action.REJECT:
        return f"{name} was rejected: no date is promised."
    if answer is not None and answer.action == AcknowledgementLine.Action.CHANGE:
        dates = [dt.date.fromisoformat(d["date"]) for d in answer.proposed["deliveries"]]
        source = "proposed, pending the buyer's review"
    else:
        dates = [s.promised_date for s in line.schedule_lines.all()]
        source = "committed"
    if not dates:
        return f"{name} has no promised date yet."
    promised = max(dates)
    days = (promised - line.need_by_date).days
    if days <= rule.threshold:
        return f"{name} is now promised for {day(promised)}, need-by {day(line.need_by_date)}."
    return Finding(
        type=CaseType.PROMISE_AFTER_NEED,
        key=line_key(CaseType.PROMISE_AFTER_NEED, line),
        title=f"{line.po.number} line {line.line_number} promised {days} days after need-by",
        summary=f"{line.po.supplier.code} promised line {line.line_number} ({line.item.sku}) of {line.po.number} "
        f"for {day(promised)} ({source}), {days} days after its need-by date {day(line.need_by_date)} "
        f"(threshold {decimal_text(rule.threshold)} days).",
        concern=line_concern(line),
        details={
            "episode": f"{day(promised)}>{day(line.need_by_date)}",
            "promised_date": day(promised),
            "need_by_date": day(line.need_by_date),
            "days_late": str(days),
            "source": "proposal" if answer is not None else "schedule",
            "threshold_days": decimal_text(rule.threshold),
        },
    )


def _short(line: PurchaseOrderLine, answer: AcknowledgementLine | None, rule: Rule) -> Outcome:
    name = f"Line {line.line_number} of {line.po.number}"
    if gone := _gone(line):
        return gone
    ordered = line.ordered_quantity
    if answer is None:
        return f"{name} has no pending rejection or quantity change: the ordered {decimal_text(ordered)} stands."
    rejected = answer.action == AcknowledgementLine.Action.REJECT
    offered = Decimal(0) if rejected else Decimal(answer.proposed["quantity"])
    short_pct = -percent_change(ordered, offered)
    if not rejected and short_pct <= rule.threshold:
        return f"{name}: the supplier offers {decimal_text(offered)} of {decimal_text(ordered)} ordered."
    if rejected:
        reason = answer.reason_code.label if answer.reason_code else "no reason given"
        title = f"{line.po.number} line {line.line_number} rejected"
        summary = (
            f"{line.po.supplier.code} rejected line {line.line_number} ({line.item.sku}) of {line.po.number}: {reason}."
        )
    else:
        title = f"{line.po.number} line {line.line_number}: {decimal_text(offered)} of {decimal_text(ordered)} offered"
        summary = (
            f"{line.po.supplier.code} offers {decimal_text(offered)} of the {decimal_text(ordered)} ordered on line "
            f"{line.line_number} ({line.item.sku}) of {line.po.number}, {pct(short_pct)}% short "
            f"(threshold {decimal_text(rule.threshold)}%)."
        )
    return Finding(
        type=CaseType.QUANTITY_SHORT,
        key=line_key(CaseType.QUANTITY_SHORT, line),
        title=title,
        summary=summary,
        concern=line_concern(line),
        details={
            "episode": f"answer:{answer.pk}",
            "ordered_quantity": decimal_text(ordered),
            "offered_quantity": decimal_text(offered),
            "short_pct": pct(short_pct),
            "action": answer.action,
            "threshold_pct": decimal_text(rule.threshold),
        },
    )


def _price(line: PurchaseOrderLine, answer: AcknowledgementLine | None, rule: Rule) -> Outcome:
    name = f"Line {line.line_number} of {line.po.number}"
    if gone := _gone(line):
        return gone
    if answer is None or answer.action != AcknowledgementLine.Action.CHANGE:
        return f"{name} has no pending price change."
    before, proposed = Decimal(answer.before["unit_price"]), Decimal(answer.proposed["unit_price"])
    change = percent_change(before, proposed)
    tolerance = line.po.supplier.tolerances.price_pct
    over = change - tolerance
    if over <= rule.threshold:
        return f"{name}: the proposed price {decimal_text(proposed)} is within tolerance."
    return Finding(
        type=CaseType.PRICE_OUT_OF_TOLERANCE,
        key=line_key(CaseType.PRICE_OUT_OF_TOLERANCE, line),
        title=f"{line.po.number} line {line.line_number}: price +{pct(change)}% (tolerance {decimal_text(tolerance)}%)",
        summary=f"{line.po.supplier.code} asks {decimal_text(proposed)} instead of {decimal_text(before)} for line "
        f"{line.line_number} ({line.item.sku}) of {line.po.number}: {pct(change)}% more, "
        f"{pct(over)} points beyond the {decimal_text(tolerance)}% tolerance.",
        concern=line_concern(line),
        details={
            "episode": f"answer:{answer.pk}",
            "unit_price": decimal_text(before),
            "proposed_unit_price": decimal_text(proposed),
            "change_pct": pct(change),
            "tolerance_pct": decimal_text(tolerance),
            "over_by_points": pct(over),
            "threshold_points": decimal_text(rule.threshold),
        },
    )


def _proposal_waiting(
    line: PurchaseOrderLine, answer: AcknowledgementLine | None, rule: Rule, now: dt.datetime
) -> Outcome:
    name = f"Line {line.line_number} of {line.po.number}"
    if answer is None:
        return f"{name} has no proposal waiting for a buyer (decided or superseded)."
    submitted = answer.acknowledgement.submitted_at
    if now < submitted + dt.timedelta(hours=float(rule.threshold)):
        return f"{name}'s proposal has waited less than {decimal_text(rule.threshold)} hours."
    what = "rejection" if answer.action == AcknowledgementLine.Action.REJECT else "change"
    return Finding(
        type=CaseType.PROPOSAL_OVERDUE,
        key=line_key(CaseType.PROPOSAL_OVERDUE, line),
        title=f"{line.po.number} line {line.line_number}: {what} awaiting review",
        summary=f"{line.po.supplier.code}'s {what} of line {line.line_number} ({line.item.sku}) of {line.po.number}, "
        f"submitted {submitted.isoformat(timespec='minutes')}, has waited for a buyer's decision longer than "
        f"{decimal_text(rule.threshold)} hours.",
        concern=line_concern(line),
        details={
            "episode": f"answer:{answer.pk}",
            "answer": str(answer.pk),
            "action": answer.action,
            "submitted_at": submitted.isoformat(),
            "threshold_hours": decimal_text(rule.threshold),
        },
    )


def asn_late_outcome(line: PurchaseOrderLine, rule: Rule, today: dt.date) -> Outcome:
    name = f"Line {line.line_number} of {line.po.number}"
    if line.status not in COMMITTED:
        return f"{name} is {line.get_status_display().lower()}: no delivery is outstanding."
    covered = max(line.shipped_quantity, line.received_quantity)
    due = Decimal(0)
    for schedule in sorted(line.schedule_lines.all(), key=lambda s: (s.promised_date, s.schedule_number)):
        due += schedule.quantity
        if schedule.promised_date + dt.timedelta(days=rule.grace_days) >= today:
            break
        if covered < due:
            return _asn_late_finding(line, schedule, due, covered, rule)
    return f"{name}: shipment notices cover every delivery due ({decimal_text(covered)} shipped)."


def _asn_late_finding(
    line: PurchaseOrderLine, schedule: ScheduleLine, due: Decimal, covered: Decimal, rule: Rule
) -> Finding:
    promised = day(schedule.promised_date)
    return Finding(
        type=CaseType.ASN_LATE,
        key=line_key(CaseType.ASN_LATE, line),
        title=f"{line.po.number} line {line.line_number}: no shipment notice for {promised}",
        summary=f"{line.po.supplier.code} promised {decimal_text(due)} of line {line.line_number} ({line.item.sku}) "
        f"of {line.po.number} by {promised}; shipment notices cover {decimal_text(covered)} "
        f"({rule.grace_days} grace days).",
        concern=line_concern(line),
        details={
            "episode": f"{promised}:{decimal_text(due)}",
            "promised_date": promised,
            "schedule_number": str(schedule.schedule_number),
            "due_quantity": decimal_text(due),
            "shipped_quantity": decimal_text(covered),
            "grace_days": str(rule.grace_days),
        },
    )


def lines_of(queryset: QuerySet[PurchaseOrderLine]) -> list[PurchaseOrderLine]:
    return list(
        queryset.select_related("po__supplier", "item")
        .prefetch_related(Prefetch("schedule_lines", queryset=ScheduleLine.objects.order_by("schedule_number")))
        .order_by("po_id", "line_number")
    )


def po_check(number: str, *, now: dt.datetime | None = None) -> list[ExceptionCase]:
    """Re-evaluate every PO and line rule of one PO. Returns the cases newly opened."""
    now = now or timezone.now()
    po = PurchaseOrder.objects.select_related("supplier").filter(number=number).first()
    if po is None:
        return []
    rules = Rules()
    lines = lines_of(PurchaseOrderLine.objects.filter(po=po))
    for line in lines:
        line.po = po  # one PO object for every line: its supplier is loaded once
    outcomes = ack_outcomes([po], rules, now) | line_outcomes(lines, rules, now, timezone.localdate(now))
    return apply_outcomes(outcomes)


@handles(
    "po.acknowledged",
    "po.line.changed",
    "po.proposal.decided",
    "po.revised",
    "po.cancelled",
    "po.acknowledgement.overdue",
    "receipt.recorded",
)
def on_po_event(envelope: Envelope) -> None:
    po_check(envelope["data"]["po_number"])
