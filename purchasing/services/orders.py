"""Every write of purchasing state: acknowledgements, buyer decisions, change orders, deadlines.

Web views, the API, EDI and CSV imports all call these, so each channel follows
the same rules. Each service runs in one transaction, locks the PO row first
(so concurrent writers of one PO queue up), checks the caller's expected
version (optimistic locking across the time a person looks at a page), records
its domain event in the same transaction, and raises ValidationError with a
message per field when the input is wrong, having written nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Field, Prefetch, Value, When
from django.utils import timezone

from planning_sync.outbox import record_event
from purchasing import notifications
from purchasing.errors import StaleVersion
from purchasing.models import (
    Acknowledgement,
    AcknowledgementLine,
    Channel,
    HistoryEntry,
    Item,
    LineStatus,
    POStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    ReasonCode,
    ScheduleLine,
    Site,
)
from purchasing.rules import Delivery, LineTerms, decimal_text, tolerance_breaches
from suppliers.models import NotificationKind, Supplier, User

MAX_DELIVERIES = 10
Action = AcknowledgementLine.Action
Outcome = AcknowledgementLine.Outcome


@dataclass(frozen=True)
class LineDecision:
    """A supplier's answer for one line, from any channel.

    For ``change``, unset values keep the line's current ones; one delivery
    moves the promised date, several split the line.
    """

    line_number: int
    action: str
    reason_code: str = ""
    note: str = ""
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    deliveries: tuple[Delivery, ...] = ()


@dataclass(frozen=True)
class LineChange:
    """A buyer's change to an existing line in a change order; None keeps the value."""

    line_number: int
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    need_by_date: dt.date | None = None


@dataclass(frozen=True)
class NewLine:
    item_sku: str
    quantity: Decimal
    unit_price: Decimal
    need_by_date: dt.date
    line_number: int | None = None


class _Errors:
    """Collects messages keyed like ``lines.20.quantity`` and raises them all at once."""

    def __init__(self) -> None:
        self.messages: dict[str, list[str]] = {}

    def add(self, key: str, message: str) -> None:
        self.messages.setdefault(key, []).append(message)

    def raise_if_any(self) -> None:
        if self.messages:
            raise ValidationError(self.messages)


# --- shared steps -------------------------------------------------------------


def _lock(po: PurchaseOrder, expected_version: int | None) -> PurchaseOrder:
    locked = PurchaseOrder.objects.select_for_update().select_related("supplier").get(pk=po.pk)
    if expected_version is not None and locked.version != expected_version:
        raise StaleVersion(locked.version)
    return locked


def _lines(po: PurchaseOrder) -> dict[int, PurchaseOrderLine]:
    # Schedule lines by number within their line: their default ordering joins the line and the PO to sort by.
    schedules = Prefetch("schedule_lines", queryset=ScheduleLine.objects.order_by("schedule_number"))
    lines = po.lines.select_related("item").prefetch_related(schedules).order_by("line_number")
    return {line.line_number: line for line in lines}


def current_terms(line: PurchaseOrderLine) -> LineTerms:
    """The line's quantity, price and deliveries; an unpromised line is due whole on its need-by date."""
    schedules = sorted(line.schedule_lines.all(), key=lambda s: s.schedule_number)
    deliveries = tuple(Delivery(s.quantity, s.promised_date) for s in schedules)
    if sum((d.quantity for d in deliveries), Decimal(0)) != line.ordered_quantity:
        # Unpromised, or the buyer changed the quantity since: the promise no longer covers the line.
        deliveries = (Delivery(line.ordered_quantity, line.need_by_date),)
    return LineTerms(line.ordered_quantity, line.unit_price, deliveries)


def _apply_terms(line: PurchaseOrderLine, terms: LineTerms) -> None:
    """Make the line say ``terms``: quantity, price, and its schedule lines replaced."""
    line.ordered_quantity = terms.quantity
    line.unit_price = terms.unit_price
    if line.original_promised_date is None:
        line.original_promised_date = min(d.date for d in terms.deliveries)
    line.schedule_lines.all().delete()
    ScheduleLine.objects.bulk_create(
        ScheduleLine(line=line, schedule_number=n, quantity=d.quantity, promised_date=d.date)
        for n, d in enumerate(terms.deliveries, start=1)
    )


def _save_line(line: PurchaseOrderLine, *fields: str) -> None:
    line.save(update_fields=[*fields, "updated_at"])


def _bump(po: PurchaseOrder, *fields: str) -> None:
    po.version += 1
    po.save(update_fields=["version", "status", "updated_at", *fields])


def _history(
    po: PurchaseOrder,
    *,
    actor: User | None,
    channel: str,
    action: str,
    summary: str,
    line_number: int | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    HistoryEntry.objects.create(
        po=po,
        actor=actor,
        channel=channel,
        action=action,
        summary=summary,
        line_number=line_number,
        changes=changes or {},
    )


def _settle_po_status(po: PurchaseOrder, lines: Iterable[PurchaseOrderLine]) -> None:
    """Derive the PO's status from its lines after an answer, a decision or a change order."""
    statuses = {line.status for line in lines if line.status != LineStatus.CANCELLED}
    # A line waiting for the supplier outranks one waiting for the buyer: the PO
    # must stay answerable while other lines are still under review.
    if not statuses:
        target = POStatus.CANCELLED
    elif LineStatus.REVISED in statuses:
        target = POStatus.REVISED
    elif LineStatus.ISSUED in statuses:
        target = POStatus.ISSUED
    elif statuses & {LineStatus.CHANGES_PENDING, LineStatus.REJECTED}:
        target = POStatus.CHANGES_PENDING
    elif po.status in (*PurchaseOrder.AWAITING_ACK_STATUSES, POStatus.CHANGES_PENDING):
        target = POStatus.ACKNOWLEDGED
    else:
        return
    if target != po.status:
        po.transition_to(target)


def _settle(po: PurchaseOrder, lines: Iterable[PurchaseOrderLine], now: dt.datetime, *, restart: bool) -> None:
    """Settle the PO's status; stamp an acknowledgement, or restart the deadline when the supplier must answer."""
    was_awaiting, was_status = po.is_awaiting_acknowledgement, po.status
    _settle_po_status(po, lines)
    if po.status == POStatus.ACKNOWLEDGED and was_status != POStatus.ACKNOWLEDGED:
        po.acknowledged_at = now
    if po.is_awaiting_acknowledgement and (restart or not was_awaiting):
        po.acknowledgement_due = now + dt.timedelta(hours=po.supplier.effective_ack_deadline_hours)
        po.reminder_sent_at = None
        po.overdue_at = None


_SETTLED_FIELDS = ("acknowledged_at", "acknowledgement_due", "reminder_sent_at", "overdue_at")


# --- acknowledgement -----------------------------------------------------------


@dataclass
class _AnswerWrites:
    """An acknowledgement's row writes, made a few statements for all its lines rather than five per line:
    the API's throughput is bounded by them (tests/bench/bench_api.py)."""

    answers: list[AcknowledgementLine] = field(default_factory=list)
    schedules: list[tuple[PurchaseOrderLine, LineTerms]] = field(default_factory=list)
    # Each answered line with the fields the answer changed on it, {field: new value}.
    lines: list[tuple[PurchaseOrderLine, dict[str, Any]]] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    changed: list[tuple[PurchaseOrderLine, dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    def flush(self, *, by: User | None, channel: str) -> None:
        AcknowledgementLine.objects.bulk_create(self.answers)
        if self.schedules:
            # Only a line promised before has schedule lines to replace (_lines prefetched them).
            promised = [line for line, _ in self.schedules if line.schedule_lines.all()]
            if promised:
                ScheduleLine.objects.filter(line__in=promised).delete()
            ScheduleLine.objects.bulk_create(
                ScheduleLine(line=line, schedule_number=n, quantity=d.quantity, promised_date=d.date)
                for line, terms in self.schedules
                for n, d in enumerate(terms.deliveries, start=1)
            )
            for line, _ in self.schedules:
                # The answers returned hold these lines: drop the prefetched schedule lines just replaced.
                line._prefetched_objects_cache.pop("schedule_lines", None)  # type: ignore[attr-defined]
        _update_lines(self.lines)
        HistoryEntry.objects.bulk_create(self.history)
        for line, before, after in self.changed:
            _line_changed_event(line, before, after, actor=by, channel=channel)


_ANSWERED_FIELDS = ("status", "ordered_quantity", "unit_price", "original_promised_date", "revision_changes")


def _update_lines(changes: Sequence[tuple[PurchaseOrderLine, dict[str, Any]]]) -> None:
    """Write every line's changed fields in one UPDATE.

    Unlike bulk_update, a value all lines share is set as such and a field a line keeps is left to its
    column: bulk_update's CASE branch per line and field cost more Python than the statement costs the
    database (tests/bench/bench_api.py). Plain accepts share every value, so they need no CASE at all.
    """
    now = timezone.now()
    updates: dict[str, Any] = {"updated_at": now}  # update() does not apply auto_now
    for name in sorted({name for _, values in changes for name in values}):
        given = [(line.pk, values[name]) for line, values in changes if name in values]
        first = given[0][1]
        if len(given) == len(changes) and all(value == first for _, value in given):
            updates[name] = first
        else:
            column = cast(Field[Any, Any], PurchaseOrderLine._meta.get_field(name))
            whens = [When(pk=pk, then=Value(value, output_field=column)) for pk, value in given]
            updates[name] = Case(*whens, default=F(name), output_field=column)
    PurchaseOrderLine.objects.filter(pk__in=[line.pk for line, _ in changes]).update(**updates)
    for line, _ in changes:
        line.updated_at = now


@transaction.atomic
def acknowledgement_submit(
    *,
    po: PurchaseOrder,
    by: User | None,
    decisions: Sequence[LineDecision],
    channel: str,
    expected_version: int | None,
    note: str = "",
) -> Acknowledgement:
    """Answer every line of the PO that awaits an answer, all or nothing.

    Accepts and changes within the supplier's tolerances are applied at once
    (touchless); changes beyond them and rejections wait for the buyer. Locks
    the PO; raises StaleVersion when ``expected_version`` is not the current one
    (None skips the check, for channels that carry no version). Emits
    ``po.acknowledged`` and one ``po.line.changed`` per applied change.
    """
    po = _lock(po, expected_version)
    lines = _lines(po)
    plans = _plan_decisions(po, lines, decisions)
    now = timezone.now()
    ack = Acknowledgement.objects.create(po=po, revision=po.revision, submitted_by=by, channel=channel, note=note)
    writes = _AnswerWrites()
    answers = [
        _answer_line(ack, lines[d.line_number], d, plan, by=by, channel=channel, writes=writes) for d, plan in plans
    ]
    applied = sum(a.outcome == Outcome.APPLIED for a in answers)
    summary = f"Acknowledged revision {po.revision}: {applied} of {len(answers)} lines applied"
    if note:
        summary += f". Note: {note}"
    writes.history.append(HistoryEntry(po=po, actor=by, channel=channel, action="acknowledged", summary=summary))
    writes.flush(by=by, channel=channel)
    _settle(po, lines.values(), now, restart=False)
    _bump(po, *_SETTLED_FIELDS)
    record_event(
        "po.acknowledged",
        subject=po,
        actor=by,
        channel=channel,
        critical=True,
        data={
            "po_number": po.number,
            "revision": po.revision,
            "version": po.version,
            "status": po.status,
            "note": note,
            "lines": [_answer_json(a) for a in answers],
        },
    )
    _hold_answers(ack, answers)
    return ack


def _hold_answers(ack: Acknowledgement, answers: list[AcknowledgementLine]) -> None:
    """Make ``ack.lines.all()`` the answers just written, in line order, as prefetch_related would: every
    channel shows them next, and reading them back cost the API three queries (tests/bench/bench_api.py).
    ``ack.po`` is the locked PO, so its version and status are the new ones too."""
    held = ack.lines.all()
    held._result_cache = sorted(answers, key=lambda answer: answer.line.line_number)
    held._prefetch_done = True  # type: ignore[attr-defined]  # prefetch_related's own marks, not in the stubs
    ack._prefetched_objects_cache = {"lines": held}  # type: ignore[attr-defined]


def acknowledgement_accept_all(
    *, po: PurchaseOrder, by: User | None, channel: str, expected_version: int | None
) -> Acknowledgement:
    """Accept every line awaiting an answer, as promised on the PO."""
    awaiting = po.lines.filter(status__in=(LineStatus.ISSUED, LineStatus.REVISED)).values_list("line_number", flat=True)
    decisions = [LineDecision(line_number=n, action=Action.ACCEPT) for n in awaiting]
    return acknowledgement_submit(po=po, by=by, decisions=decisions, channel=channel, expected_version=expected_version)


@dataclass
class _Plan:
    current: LineTerms
    proposed: LineTerms
    breaches: list[str] = field(default_factory=list)
    reason: ReasonCode | None = None


def _plan_decisions(
    po: PurchaseOrder, lines: dict[int, PurchaseOrderLine], decisions: Sequence[LineDecision]
) -> list[tuple[LineDecision, _Plan]]:
    """Validate every decision before anything is written; raise all errors together."""
    errors = _Errors()
    if not po.is_awaiting_acknowledgement:
        errors.add("__all__", f"Purchase order {po.number} is {po.get_status_display().lower()}: it awaits no answer.")
        errors.raise_if_any()
    seen: set[int] = set()
    plans = []
    reasons = _reason_codes(decisions)
    for decision in decisions:
        key = f"lines.{decision.line_number}"
        line = lines.get(decision.line_number)
        if line is None:
            errors.add(key, f"Line {decision.line_number} is not on purchase order {po.number}.")
        elif decision.line_number in seen:
            errors.add(key, f"Line {decision.line_number} is answered twice.")
        elif not line.is_awaiting_answer:
            errors.add(key, f"Line {line.line_number} is {line.get_status_display().lower()}: it awaits no answer.")
        else:
            plan = _plan_line(line, decision, po.supplier, reasons, errors)
            if plan is not None:
                plans.append((decision, plan))
        seen.add(decision.line_number)
    for number, line in lines.items():
        if line.is_awaiting_answer and number not in seen:
            errors.add(f"lines.{number}", f"Line {number} needs an answer: accept, reject or change it.")
    errors.raise_if_any()
    return plans


def _reason_codes(decisions: Sequence[LineDecision]) -> dict[str, ReasonCode]:
    """The active reason codes by code; only a rejection needs one, so an answer without any reads none."""
    if not any(d.action == Action.REJECT for d in decisions):
        return {}
    return {r.code: r for r in ReasonCode.objects.filter(is_active=True)}


def _plan_line(
    line: PurchaseOrderLine,
    decision: LineDecision,
    supplier: Supplier,
    reasons: dict[str, ReasonCode],
    errors: _Errors,
) -> _Plan | None:
    key = f"lines.{line.line_number}"
    current = current_terms(line)
    if decision.action == Action.ACCEPT:
        return _Plan(current=current, proposed=_accepted_terms(line, current))
    if decision.action == Action.REJECT:
        reason = reasons.get(decision.reason_code)
        if reason is None:
            errors.add(f"{key}.reason_code", "Choose a reason for rejecting the line.")
            return None
        return _Plan(current=current, proposed=current, reason=reason)
    if decision.action != Action.CHANGE:
        errors.add(f"{key}.action", f"Unknown answer {decision.action!r}: use accept, reject or change.")
        return None
    proposed = _proposed_terms(line, decision, current, errors)
    if proposed is None:
        return None
    if proposed == current:
        errors.add(key, f"Line {line.line_number}: nothing was changed. Accept the line instead.")
        return None
    breaches = tolerance_breaches(
        current=current, proposed=proposed, need_by=line.need_by_date, tolerances=supplier.tolerances
    )
    return _Plan(current=current, proposed=proposed, breaches=breaches)


def _accepted_terms(line: PurchaseOrderLine, current: LineTerms) -> LineTerms:
    """Accepting keeps the deliveries already promised unless the buyer changed quantity or need-by date."""
    moved = {"quantity", "need_by_date"} & set(line.revision_changes)
    if line.schedule_lines.all() and not moved:
        return current
    return LineTerms(current.quantity, current.unit_price, (Delivery(current.quantity, line.need_by_date),))


def _proposed_terms(
    line: PurchaseOrderLine, decision: LineDecision, current: LineTerms, errors: _Errors
) -> LineTerms | None:
    key = f"lines.{line.line_number}"
    before = len(errors.messages)
    quantity = current.quantity if decision.quantity is None else decision.quantity
    price = current.unit_price if decision.unit_price is None else decision.unit_price
    if quantity <= 0:
        errors.add(f"{key}.quantity", "The quantity must be more than zero.")
    if price < 0:
        errors.add(f"{key}.unit_price", "The unit price cannot be negative.")
    if decision.deliveries:
        deliveries = decision.deliveries
    elif quantity == current.quantity:
        deliveries = current.deliveries
    elif len(current.deliveries) == 1:
        deliveries = (Delivery(quantity, current.deliveries[0].date),)
    else:
        errors.add(f"{key}.deliveries", "The line is split into deliveries: give them for the new quantity.")
        return None
    _check_deliveries(deliveries, quantity, f"{key}.deliveries", errors)
    if len(errors.messages) > before:
        return None
    return LineTerms(quantity, price, tuple(sorted(deliveries, key=lambda d: d.date)))


def _check_deliveries(deliveries: Sequence[Delivery], quantity: Decimal, key: str, errors: _Errors) -> None:
    today = timezone.localdate()
    if len(deliveries) > MAX_DELIVERIES:
        errors.add(key, f"A line can be split into at most {MAX_DELIVERIES} deliveries.")
    for delivery in deliveries:
        if delivery.quantity <= 0:
            errors.add(key, "Every delivery needs a quantity above zero.")
        if delivery.date < today:
            errors.add(key, f"The promised date {delivery.date.isoformat()} is in the past.")
    total = sum((d.quantity for d in deliveries), Decimal(0))
    if total != quantity:
        errors.add(
            key,
            f"The deliveries add up to {total.normalize():f} but the line quantity is {quantity.normalize():f}.",
        )


def _answer_line(
    ack: Acknowledgement,
    line: PurchaseOrderLine,
    decision: LineDecision,
    plan: _Plan,
    *,
    by: User | None,
    channel: str,
    writes: _AnswerWrites,
) -> AcknowledgementLine:
    """The answer for one line and what it changes, collected in ``writes`` (written by its flush)."""
    touchless = decision.action != Action.REJECT and not plan.breaches
    answer = AcknowledgementLine(
        acknowledgement=ack,
        line=line,
        action=decision.action,
        reason_code=plan.reason,
        note=decision.note,
        before=plan.current.as_json(),
        proposed=plan.proposed.as_json(),
        breaches=plan.breaches,
        outcome=Outcome.APPLIED if touchless else Outcome.PENDING,
    )
    writes.answers.append(answer)
    kept = {name: getattr(line, name) for name in _ANSWERED_FIELDS}
    if touchless:
        line.ordered_quantity, line.unit_price = plan.proposed.quantity, plan.proposed.unit_price
        if line.original_promised_date is None:
            line.original_promised_date = min(d.date for d in plan.proposed.deliveries)
        writes.schedules.append((line, plan.proposed))
        line.transition_to(LineStatus.ACKNOWLEDGED)
    else:
        line.transition_to(LineStatus.REJECTED if decision.action == Action.REJECT else LineStatus.CHANGES_PENDING)
    line.revision_changes = {}
    writes.lines.append(
        (line, {name: getattr(line, name) for name in _ANSWERED_FIELDS if getattr(line, name) != kept[name]})
    )
    writes.history.append(
        HistoryEntry(
            po=line.po,
            actor=by,
            channel=channel,
            action=f"line.{decision.action}",
            line_number=line.line_number,
            summary=_answer_summary(answer),
            changes={"before": answer.before, "proposed": answer.proposed, "breaches": plan.breaches},
        )
    )
    if touchless and decision.action == Action.CHANGE:
        writes.changed.append((line, answer.before, answer.proposed))
    return answer


def _answer_summary(answer: AcknowledgementLine) -> str:
    number = answer.line.line_number
    if answer.action == Action.REJECT:
        reason = answer.reason_code.label if answer.reason_code else ""
        return f"Line {number} rejected ({reason}); waiting for the buyer."
    if answer.action == Action.ACCEPT:
        return f"Line {number} accepted."
    if answer.outcome == Outcome.APPLIED:
        return f"Line {number} changed within tolerance and applied."
    return f"Line {number} change proposed outside tolerance; waiting for the buyer."


def _answer_json(answer: AcknowledgementLine) -> dict[str, Any]:
    return {
        "line_number": answer.line.line_number,
        "action": answer.action,
        "outcome": answer.outcome,
        "reason_code": answer.reason_code.code if answer.reason_code else None,
        "note": answer.note,
        "before": answer.before,
        "proposed": answer.proposed,
        "breaches": answer.breaches,
    }


def _line_changed_event(
    line: PurchaseOrderLine, before: dict[str, Any], after: dict[str, Any], *, actor: User | None, channel: str
) -> None:
    record_event(
        "po.line.changed",
        subject=line.po,
        actor=actor,
        channel=channel,
        critical=True,
        data={
            "po_number": line.po.number,
            "line_number": line.line_number,
            "item_sku": line.item.sku,
            "before": before,
            "after": after,
        },
    )


# --- buyer decisions -------------------------------------------------------------


@transaction.atomic
def proposal_decide(
    *, answer: AcknowledgementLine, by: User, approve: bool, reason: str = "", channel: str = Channel.WEB
) -> AcknowledgementLine:
    """A buyer's decision on a proposal (a change outside tolerance) or on a rejected line.

    Approving a change applies it; approving a rejection cancels the line.
    Declining (a reason is required) sends the line back to the supplier for a
    new answer, with a fresh acknowledgement deadline. Emits ``po.proposal.decided``.
    """
    po = _lock(answer.line.po, None)
    answer = AcknowledgementLine.objects.select_for_update().select_related("line__item").get(pk=answer.pk)
    errors = _Errors()
    if answer.outcome != Outcome.PENDING:
        errors.add("__all__", f"This proposal was already {answer.get_outcome_display().lower()}.")
    if not approve and not reason.strip():
        errors.add("reason", "Say why you decline, so the supplier can answer again.")
    if approve and answer.action == Action.CHANGE:
        past = [d for d in LineTerms.from_json(answer.proposed).deliveries if d.date < timezone.localdate()]
        if past:
            errors.add(
                "__all__",
                f"The proposed delivery date {past[0].date.isoformat()} has passed: "
                "decline, and ask the supplier for a new date.",
            )
    errors.raise_if_any()
    line = answer.line
    now = timezone.now()
    _decide_line(answer, line, approve=approve, by=by, channel=channel)
    answer.outcome = Outcome.APPROVED if approve else Outcome.DECLINED
    answer.decided_by, answer.decided_at, answer.decision_reason = by, now, reason.strip()
    answer.save(update_fields=["outcome", "decided_by", "decided_at", "decision_reason"])
    _settle(po, _lines(po).values(), now, restart=not approve)
    _bump(po, *_SETTLED_FIELDS)
    action = answer.get_action_display().lower()
    verdict = (
        f"Buyer approved the supplier's {action} of line {line.line_number}."
        if approve
        else f"Buyer declined the supplier's {action} of line {line.line_number}: {reason.strip()}"
    )
    _history(
        po,
        actor=by,
        channel=channel,
        action="proposal.decided",
        line_number=line.line_number,
        summary=verdict,
    )
    record_event(
        "po.proposal.decided",
        subject=po,
        actor=by,
        channel=channel,
        critical=True,
        data={**_answer_json(answer), "po_number": po.number, "decision": answer.outcome, "reason": reason.strip()},
    )
    notifications.notify_supplier(po, NotificationKind.PROPOSAL_DECIDED, answer=answer, approved=approve)
    return answer


def _decide_line(
    answer: AcknowledgementLine, line: PurchaseOrderLine, *, approve: bool, by: User, channel: str
) -> None:
    if approve and answer.action == Action.REJECT:
        line.transition_to(LineStatus.CANCELLED)
    elif approve:
        _apply_terms(line, LineTerms.from_json(answer.proposed))
        line.transition_to(LineStatus.ACKNOWLEDGED)
        _line_changed_event(line, answer.before, answer.proposed, actor=by, channel=channel)
    else:
        line.transition_to(LineStatus.ISSUED)
    _save_line(line, "status", "ordered_quantity", "unit_price", "original_promised_date")


# --- change orders -----------------------------------------------------------------


@transaction.atomic
def change_order_issue(
    *,
    po: PurchaseOrder,
    by: User | None,
    expected_version: int | None,
    changes: Sequence[LineChange] = (),
    additions: Sequence[NewLine] = (),
    cancellations: Sequence[int] = (),
    channel: str = Channel.WEB,
    revision: int | None = None,
) -> PurchaseOrder:
    """A new revision of the PO: changed and added lines need the supplier's answer again.

    Used by buyers in the portal and by the ERP feed. Raises the revision,
    restarts the acknowledgement deadline, supersedes pending proposals on the
    changed lines, and emits ``po.revised`` with the diff per line and field.
    ``revision`` is the new revision number when the ERP gives one (it may skip
    numbers); otherwise the revision goes up by one.
    """
    po = _lock(po, expected_version)
    if revision is not None and revision <= po.revision:
        raise ValidationError({"revision": f"Revision {revision} is not after the current revision {po.revision}."})
    lines = _lines(po)
    plan = _plan_change_order(po, lines, changes, additions, cancellations)
    now = timezone.now()
    po.revision = revision if revision is not None else po.revision + 1
    diffs = _apply_change_order(po, lines, plan, by=by, channel=channel)
    _settle(po, lines.values(), now, restart=True)
    _bump(po, "revision", *_SETTLED_FIELDS)
    _history(
        po,
        actor=by,
        channel=channel,
        action="revised",
        summary=f"Revision {po.revision}: {len(diffs)} line{'s' if len(diffs) != 1 else ''} changed.",
        changes={"lines": diffs},
    )
    record_event(
        "po.revised",
        subject=po,
        actor=by,
        channel=channel,
        critical=True,
        data={"po_number": po.number, "revision": po.revision, "version": po.version, "lines": diffs},
    )
    notifications.notify_supplier(po, NotificationKind.PO_CHANGED, diffs=diffs)
    notifications.send_to_edi_supplier(po)
    return po


@dataclass
class _ChangeOrderPlan:
    changes: list[tuple[PurchaseOrderLine, dict[str, list[Any]]]]
    additions: list[PurchaseOrderLine]
    cancellations: list[PurchaseOrderLine]


def _plan_change_order(
    po: PurchaseOrder,
    lines: dict[int, PurchaseOrderLine],
    changes: Sequence[LineChange],
    additions: Sequence[NewLine],
    cancellations: Sequence[int],
) -> _ChangeOrderPlan:
    errors = _Errors()
    if po.status in (*PurchaseOrder.FINAL_STATUSES, POStatus.RECEIVED, POStatus.SHIPPED, POStatus.PARTIALLY_SHIPPED):
        errors.add("__all__", f"Purchase order {po.number} is {po.get_status_display().lower()}: it cannot change.")
        errors.raise_if_any()
    plan = _ChangeOrderPlan([], [], [])
    for change in changes:
        line = _changeable_line(lines, change.line_number, errors)
        if line is not None:
            diff = _line_diff(line, change, errors)
            if diff:
                plan.changes.append((line, diff))
    for number in cancellations:
        line = _changeable_line(lines, number, errors)
        if line is not None:
            plan.cancellations.append(line)
    plan.additions = _new_lines(po, lines, additions, errors, status=LineStatus.REVISED)
    if not (plan.changes or plan.additions or plan.cancellations) and not errors.messages:
        errors.add("__all__", "The change order changes nothing.")
    errors.raise_if_any()
    return plan


def _changeable_line(lines: dict[int, PurchaseOrderLine], number: int, errors: _Errors) -> PurchaseOrderLine | None:
    line = lines.get(number)
    if line is None:
        errors.add(f"lines.{number}", f"Line {number} is not on this purchase order.")
    elif line.status not in _CHANGEABLE:
        errors.add(f"lines.{number}", f"Line {number} is {line.get_status_display().lower()}: it cannot change.")
    else:
        return line
    return None


_CHANGEABLE = (
    LineStatus.ISSUED,
    LineStatus.REVISED,
    LineStatus.ACKNOWLEDGED,
    LineStatus.CHANGES_PENDING,
    LineStatus.REJECTED,
)


def _line_diff(line: PurchaseOrderLine, change: LineChange, errors: _Errors) -> dict[str, list[Any]]:
    key = f"lines.{line.line_number}"
    diff: dict[str, list[Any]] = {}
    if change.quantity is not None and change.quantity <= 0:
        errors.add(f"{key}.quantity", "The quantity must be more than zero.")
    elif change.quantity is not None and change.quantity != line.ordered_quantity:
        diff["quantity"] = [decimal_text(line.ordered_quantity), decimal_text(change.quantity)]
    if change.unit_price is not None and change.unit_price < 0:
        errors.add(f"{key}.unit_price", "The unit price cannot be negative.")
    elif change.unit_price is not None and change.unit_price != line.unit_price:
        diff["unit_price"] = [decimal_text(line.unit_price), decimal_text(change.unit_price)]
    if change.need_by_date is not None and change.need_by_date < timezone.localdate():
        errors.add(f"{key}.need_by_date", f"The need-by date {change.need_by_date.isoformat()} is in the past.")
    elif change.need_by_date is not None and change.need_by_date != line.need_by_date:
        diff["need_by_date"] = [line.need_by_date.isoformat(), change.need_by_date.isoformat()]
    return diff


def _new_lines(
    po: PurchaseOrder,
    lines: dict[int, PurchaseOrderLine],
    additions: Sequence[NewLine],
    errors: _Errors,
    *,
    status: str,
) -> list[PurchaseOrderLine]:
    items = Item.objects.in_bulk([a.item_sku for a in additions], field_name="sku")
    taken = set(lines)
    next_number = (max(taken, default=0) // 10 + 1) * 10
    built = []
    for index, addition in enumerate(additions):
        key = f"additions.{index}"
        item = items.get(addition.item_sku)
        if item is None:
            errors.add(f"{key}.item_sku", f"There is no item with SKU {addition.item_sku!r}.")
        if addition.quantity <= 0:
            errors.add(f"{key}.quantity", "The quantity must be more than zero.")
        if addition.unit_price < 0:
            errors.add(f"{key}.unit_price", "The unit price cannot be negative.")
        if addition.need_by_date < timezone.localdate():
            errors.add(f"{key}.need_by_date", f"The need-by date {addition.need_by_date.isoformat()} is in the past.")
        number = addition.line_number or next_number
        if number in taken:
            errors.add(f"{key}.line_number", f"Line {number} is already on this purchase order.")
        taken.add(number)
        next_number = (max(next_number, number) // 10 + 1) * 10
        if item is not None:
            built.append(
                PurchaseOrderLine(
                    po=po,
                    line_number=number,
                    item=item,
                    ordered_quantity=addition.quantity,
                    unit_price=addition.unit_price,
                    need_by_date=addition.need_by_date,
                    status=status,
                    revision_changes={"added": [None, True]} if status == LineStatus.REVISED else {},
                )
            )
    return built


def _apply_change_order(
    po: PurchaseOrder,
    lines: dict[int, PurchaseOrderLine],
    plan: _ChangeOrderPlan,
    *,
    by: User | None,
    channel: str,
) -> list[dict[str, Any]]:
    diffs: list[dict[str, Any]] = []
    changed_ids = [line.pk for line, _ in plan.changes] + [line.pk for line in plan.cancellations]
    AcknowledgementLine.objects.filter(line_id__in=changed_ids, outcome=Outcome.PENDING).update(
        outcome=Outcome.SUPERSEDED
    )
    for line, diff in plan.changes:
        _revise_line(line, diff)
        diffs.append({"line_number": line.line_number, "change": "changed", "fields": diff})
    for line in plan.cancellations:
        line.transition_to(LineStatus.CANCELLED)
        line.revision_changes = {"cancelled": [False, True]}
        _save_line(line, "status", "revision_changes")
        diffs.append({"line_number": line.line_number, "change": "cancelled", "fields": {}})
    for line in PurchaseOrderLine.objects.bulk_create(plan.additions):
        lines[line.line_number] = line
        diffs.append(
            {
                "line_number": line.line_number,
                "change": "added",
                "fields": {
                    "item_sku": [None, line.item.sku],
                    "quantity": [None, decimal_text(line.ordered_quantity)],
                    "unit_price": [None, decimal_text(line.unit_price)],
                    "need_by_date": [None, line.need_by_date.isoformat()],
                },
            }
        )
    return diffs


def _merged_changes(earlier: dict[str, list[Any]], diff: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Changes since the supplier's last answer: the first old value against the latest new one."""
    merged = {**earlier}
    for name, (old, new) in diff.items():
        first = earlier[name][0] if name in earlier else old
        if first == new:
            merged.pop(name, None)
        else:
            merged[name] = [first, new]
    return merged


def _revise_line(line: PurchaseOrderLine, diff: dict[str, list[Any]]) -> None:
    if "quantity" in diff:
        line.ordered_quantity = Decimal(diff["quantity"][1])
    if "unit_price" in diff:
        line.unit_price = Decimal(diff["unit_price"][1])
    if "need_by_date" in diff:
        line.need_by_date = dt.date.fromisoformat(diff["need_by_date"][1])
    line.transition_to(LineStatus.REVISED)
    line.revision_changes = _merged_changes(line.revision_changes, diff)
    _save_line(line, "status", "ordered_quantity", "unit_price", "need_by_date", "revision_changes")


# --- new POs and deadlines ------------------------------------------------------------


@transaction.atomic
def purchase_order_issue(
    *,
    number: str,
    erp_id: str,
    supplier: Supplier,
    buyer: User,
    site: Site,
    order_date: dt.date,
    lines: Sequence[NewLine],
    currency: str = "USD",
    channel: str = Channel.ERP,
) -> PurchaseOrder:
    """A new PO for the supplier to acknowledge (from the ERP feed, or staff). Emits ``po.issued``."""
    errors = _Errors()
    if not lines:
        errors.add("lines", "A purchase order needs at least one line.")
    if PurchaseOrder.objects.filter(number=number).exists():
        errors.add("number", f"Purchase order {number} already exists.")
    if PurchaseOrder.objects.filter(erp_id=erp_id).exists():
        errors.add("erp_id", f"A purchase order with ERP id {erp_id} already exists.")
    errors.raise_if_any()
    now = timezone.now()
    po = PurchaseOrder.objects.create(
        number=number,
        erp_id=erp_id,
        supplier=supplier,
        buyer=buyer,
        site=site,
        currency=currency,
        order_date=order_date,
        acknowledgement_due=now + dt.timedelta(hours=supplier.effective_ack_deadline_hours),
    )
    built = _new_lines(po, {}, lines, errors, status=LineStatus.ISSUED)
    errors.raise_if_any()
    PurchaseOrderLine.objects.bulk_create(built)
    _history(po, actor=None, channel=channel, action="issued", summary=f"Issued with {len(built)} lines.")
    record_event(
        "po.issued",
        subject=po,
        channel=channel,
        data={"po_number": po.number, "supplier": supplier.code, "lines": len(built)},
    )
    notifications.notify_supplier(po, NotificationKind.PO_NEW)
    notifications.send_to_edi_supplier(po)
    return po


def acknowledgement_deadlines_sweep(*, now: dt.datetime | None = None) -> tuple[int, int]:
    """Remind suppliers of acknowledgements due soon, and mark the overdue ones; each once per deadline.

    Safe to run at any time and as often as wanted: a PO is claimed by a
    conditional update of its marker before anything is sent.
    """
    now = now or timezone.now()
    awaiting = PurchaseOrder.objects.awaiting_acknowledgement()
    soon = now + dt.timedelta(hours=settings.SUPPLYLINE_REMINDER_HOURS)
    reminded = overdue = 0
    for po in awaiting.filter(
        reminder_sent_at__isnull=True, acknowledgement_due__gt=now, acknowledgement_due__lte=soon
    ):
        reminded += _claim_and_notify(po, "reminder_sent_at", now, overdue=False)
    for po in awaiting.filter(overdue_at__isnull=True, acknowledgement_due__lte=now):
        overdue += _claim_and_notify(po, "overdue_at", now, overdue=True)
    return reminded, overdue


@transaction.atomic
def _claim_and_notify(po: PurchaseOrder, marker: str, now: dt.datetime, *, overdue: bool) -> int:
    # Claim only if nothing moved since the read: still awaiting, same deadline, not yet marked.
    claimed = (
        PurchaseOrder.objects.awaiting_acknowledgement()
        .filter(pk=po.pk, acknowledgement_due=po.acknowledgement_due, **{f"{marker}__isnull": True})
        .update(**{marker: now})
    )
    if not claimed:
        return 0
    if overdue:
        _history(po, actor=None, channel=Channel.SYSTEM, action="overdue", summary="Acknowledgement is overdue.")
        record_event(
            "po.acknowledgement.overdue",
            subject=po,
            data={"po_number": po.number, "due": po.acknowledgement_due.isoformat()},
        )
    notifications.notify_supplier(po, NotificationKind.ACK_REMINDER, overdue=overdue)
    return 1
