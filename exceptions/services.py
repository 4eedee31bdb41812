"""Every write of an exception case: rules raise and clear them, buyers work them.

Rules call ``case_raise`` and ``case_clear`` with a dedupe key naming the condition; raising again
while a case for the key is unresolved updates that case, so one condition never has two open
cases. People call the rest. Each service runs in one transaction, locks the case row, and records
what it did as an activity, so a case's history is complete.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from exceptions.models import (
    UNRESOLVED,
    CaseActivity,
    CaseStatus,
    CaseType,
    ExceptionCase,
    ResolutionCode,
)
from exceptions.thresholds import rule_for
from suppliers import services as supplier_services
from suppliers.models import User, is_buyer

logger = logging.getLogger("supplyline.exceptions")
Kind = CaseActivity.Kind
NOTE_MAX = 4000
ANY = object()  # case_claim: the caller did not say who had the case
RULE_OFF_NOTE = "The rule is switched off for this supplier and site."


@dataclass
class Concern:
    """What a case is about: each part optional, a rule sets what it knows.

    Model instances or ids: ``supplier_id`` and the like are taken from the instance when given.
    """

    supplier: Any = None
    po: Any = None
    po_line: Any = None
    shipment: Any = None
    delivery: Any = None
    item: Any = None
    site: Any = None

    def ids(self) -> dict[str, int | None]:
        return {f"{name}_id": _pk(getattr(self, name)) for name in self.__dataclass_fields__}


@dataclass
class Finding:
    """What a rule found: enough to open or update a case."""

    type: str
    key: str
    title: str
    summary: str = ""
    concern: Concern = field(default_factory=Concern)
    details: dict[str, Any] = field(default_factory=dict)
    severity: int | None = None  # None: the rule's configured severity
    # Who should work a new case; None: the PO's buyer, else the supplier's (``_default_assignee``).
    assignee: Any = None


def _pk(value: Any) -> int | None:
    if value is None or isinstance(value, int):
        return value
    pk: int = value.pk
    return pk


def case_raise(finding: Finding, *, at: dt.datetime | None = None) -> ExceptionCase | None:
    """Open a case for the finding, or update the unresolved one with its key. None if the rule is off."""
    return case_raise_created(finding, at=at)[0]


@transaction.atomic
def case_raise_created(finding: Finding, *, at: dt.datetime | None = None) -> tuple[ExceptionCase | None, bool]:
    """``case_raise``, also saying whether this call opened the case (False: it updated one, or the rule is off).

    A concurrent raise of the same key waits for the first (the partial unique index on unresolved
    keys), then updates the case that one opened: only the first is told it created the case, so
    a caller that alerts on new cases alerts once. A rule switched off for the finding's supplier
    and site raises nothing and clears the key's unresolved case, if any.
    """
    ids = finding.concern.ids()
    rule = rule_for(finding.type, supplier_id=ids["supplier_id"], site_id=ids["site_id"])
    if not rule.is_enabled:
        if (case := _unresolved(finding.key)) is not None:
            _resolve(case, code=ResolutionCode.CLEARED, note=RULE_OFF_NOTE, by=None, kind=Kind.CLEARED)
            logger.info("case cleared", extra={"case": case.pk, "case_type": case.type, "key": case.dedupe_key})
        return None, False
    severity = finding.severity if finding.severity is not None else rule.severity
    now = at or timezone.now()
    existing = _unresolved(finding.key)
    if existing is None:
        case = ExceptionCase(
            type=finding.type,
            severity=severity,
            dedupe_key=finding.key,
            title=finding.title[:200],
            summary=finding.summary,
            details=finding.details,
            assignee_id=_pk(finding.assignee) if finding.assignee is not None else _default_assignee(ids),
            due_at=now + dt.timedelta(hours=rule.sla_hours),
            opened_at=now,
            **ids,
        )
        try:
            with transaction.atomic():
                case.save(force_insert=True)
        except IntegrityError:
            existing = _unresolved(finding.key)
            if existing is None:  # not the key's constraint: let it surface
                raise
        else:
            CaseActivity.objects.create(case=case, kind=Kind.OPENED, note=finding.summary, at=now)
            logger.info("case opened", extra={"case": case.pk, "case_type": case.type, "key": case.dedupe_key})
            return case, True
    return _refresh(existing, finding, severity, ids, due_at=now + dt.timedelta(hours=rule.sla_hours)), False


def _unresolved(key: str) -> ExceptionCase | None:
    return ExceptionCase.objects.select_for_update().filter(dedupe_key=key, status__in=UNRESOLVED).first()


def _default_assignee(ids: dict[str, int | None]) -> int | None:
    """The PO's buyer, else the supplier's: the person who owns the relationship."""
    from purchasing.models import PurchaseOrder
    from suppliers.models import Supplier

    if ids["po_id"] is not None:
        return PurchaseOrder.objects.filter(pk=ids["po_id"]).values_list("buyer_id", flat=True).first()
    if ids["supplier_id"] is not None:
        return Supplier.objects.filter(pk=ids["supplier_id"]).values_list("buyer_id", flat=True).first()
    return None


def _refresh(
    case: ExceptionCase, finding: Finding, severity: int, ids: dict[str, int | None], *, due_at: dt.datetime
) -> ExceptionCase:
    """Bring an unresolved case up to date with the rule's latest finding; a history entry if it changed.

    A finding of a new episode (a new deadline, a new promise...) replaces the old one, so the case
    is due ``due_at`` (the rule's SLA from now), not on the SLA of facts that no longer apply.
    """
    wanted: dict[str, Any] = {
        "severity": severity,
        "title": finding.title[:200],
        "summary": finding.summary,
        "details": finding.details,
    }
    wanted |= {name: pk for name, pk in ids.items() if pk is not None}
    if finding.details.get("episode") != case.details.get("episode"):
        wanted["due_at"] = due_at
    changes = {name: value for name, value in wanted.items() if getattr(case, name) != value}
    if not changes:
        return case
    previous: dict[str, Any] = {"severity": case.severity} if "severity" in changes else {}
    if "due_at" in changes:
        previous["due_at"] = case.due_at.isoformat()
    for name, value in changes.items():
        setattr(case, name, value)
    case.save(update_fields=[*changes, "updated_at"])
    CaseActivity.objects.create(
        case=case, kind=Kind.UPDATED, note=finding.summary, data={"changed": sorted(changes), **previous}
    )
    return case


@transaction.atomic
def case_clear(key: str, *, note: str) -> ExceptionCase | None:
    """The condition behind ``key`` went away: its unresolved case resolves itself, saying why."""
    case = _unresolved(key)
    if case is None:
        return None
    _resolve(case, code=ResolutionCode.CLEARED, note=note, by=None, kind=Kind.CLEARED)
    logger.info("case cleared", extra={"case": case.pk, "case_type": case.type, "key": key})
    return case


def cases_clear_except(*, type: str, prefix: str, keep: Iterable[str], note: str) -> list[ExceptionCase]:
    """Clear the unresolved cases of ``type`` whose key starts with ``prefix``, except those in ``keep``.

    For a rule that re-evaluates everything about one subject (all lines of a PO) at once.
    """
    keys = (
        ExceptionCase.objects.unresolved()
        .filter(type=type, dedupe_key__startswith=prefix)
        .exclude(dedupe_key__in=list(keep))
        .values_list("dedupe_key", flat=True)
    )
    return [case for key in list(keys) if (case := case_clear(key, note=note)) is not None]


def _resolve(case: ExceptionCase, *, code: str, note: str, by: User | None, kind: str) -> None:
    now = timezone.now()
    case.status = CaseStatus.RESOLVED
    case.resolution_code = code
    case.resolution_note = note
    case.resolved_at = now
    case.resolved_by = by
    case.snoozed_until = None
    case.save(
        update_fields=[
            "status",
            "resolution_code",
            "resolution_note",
            "resolved_at",
            "resolved_by",
            "snoozed_until",
            "updated_at",
        ]
    )
    CaseActivity.objects.create(case=case, kind=kind, actor=by, note=note, data={"code": code}, at=now)


# People working the queue


def _locked(case_id: int) -> ExceptionCase:
    case = ExceptionCase.objects.select_for_update().filter(pk=case_id).first()
    if case is None:
        raise ValidationError(f"Case #{case_id} does not exist.")
    if case.is_resolved:
        raise ValidationError(f"Case #{case_id} is already resolved.")
    return case


def _require_buyer(user: User, what: str = "work on exception cases") -> None:
    if not is_buyer(user):
        raise ValidationError(f"Only buyers may {what}.")


def _clean_note(note: str, *, required: bool = False, field: str = "note") -> str:
    note = note.strip()
    if required and not note:
        raise ValidationError({field: "Write a note."})
    if len(note) > NOTE_MAX:
        raise ValidationError({field: f"Keep the note to {NOTE_MAX} characters (it has {len(note)})."})
    return note


@transaction.atomic
def case_claim(*, case_id: int, by: User, seen_assignee_id: int | object | None = ANY) -> ExceptionCase:
    """The buyer takes the case: it is theirs and in progress (a snoozed case wakes).

    ``seen_assignee_id`` is who had the case on the page the buyer clicked on: if someone else
    claimed it meanwhile, the claim is refused instead of silently taking it from them.
    """
    _require_buyer(by)
    case = _locked(case_id)
    previous = case.assignee_id
    if seen_assignee_id is not ANY and previous != seen_assignee_id and previous != by.pk:
        holder = case.assignee.get_full_name() or case.assignee.email if case.assignee else "nobody"
        raise ValidationError(f"Case #{case_id} was given to {holder} meanwhile; reload to see it.")
    case.assignee = by
    case.status = CaseStatus.IN_PROGRESS
    case.snoozed_until = None
    case.save(update_fields=["assignee", "status", "snoozed_until", "updated_at"])
    CaseActivity.objects.create(case=case, kind=Kind.CLAIMED, actor=by, data={"previous_assignee": previous})
    return case


@transaction.atomic
def case_assign(*, case_id: int, to: User | None, by: User, note: str = "", notify: bool = True) -> ExceptionCase:
    """Give the case to a buyer (or to nobody), who hears of it by e-mail unless ``notify`` is off."""
    _require_buyer(by)
    if to is not None and not is_buyer(to):
        raise ValidationError({"assignee": f"{to} is not a buyer; cases go to buyers only."})
    note = _clean_note(note)
    case = _locked(case_id)
    if case.assignee_id == (to.pk if to else None):
        return case
    previous = case.assignee_id
    case.assignee = to
    case.save(update_fields=["assignee", "updated_at"])
    CaseActivity.objects.create(
        case=case,
        kind=Kind.ASSIGNED,
        actor=by,
        note=note,
        data={"assignee": to.pk if to else None, "previous_assignee": previous},
    )
    if notify and to is not None and to != by:
        _notify_assignee(case, to, by=by, note=note)
    return case


@transaction.atomic
def cases_bulk_assign(*, case_ids: Iterable[int], to: User | None, by: User) -> list[ExceptionCase]:
    """Assign each case; all or none (a resolved case among them rejects the lot). One e-mail for the lot."""
    cases = [case_assign(case_id=pk, to=to, by=by, notify=False) for pk in _ordered_ids(case_ids)]
    if to is not None and to != by:
        _notify_assignee_of_many(cases, to, by=by)
    return cases


@transaction.atomic
def case_comment(*, case_id: int, by: User, note: str) -> CaseActivity:
    _require_buyer(by)
    note = _clean_note(note, required=True)
    case = ExceptionCase.objects.select_for_update().filter(pk=case_id).first()
    if case is None:
        raise ValidationError(f"Case #{case_id} does not exist.")
    case.save(update_fields=["updated_at"])
    return CaseActivity.objects.create(case=case, kind=Kind.COMMENTED, actor=by, note=note)


@transaction.atomic
def case_snooze(*, case_id: int, until: dt.datetime, by: User, note: str = "") -> ExceptionCase:
    """Put the case aside until ``until``; it comes back by itself (``cases_wake``)."""
    _require_buyer(by)
    note = _clean_note(note)
    now = timezone.now()
    if until <= now:
        raise ValidationError({"until": "Snooze until a time in the future."})
    if until > now + dt.timedelta(days=90):
        raise ValidationError({"until": "Snooze for 90 days at most."})
    case = _locked(case_id)
    case.status = CaseStatus.SNOOZED
    case.snoozed_until = until
    case.save(update_fields=["status", "snoozed_until", "updated_at"])
    CaseActivity.objects.create(case=case, kind=Kind.SNOOZED, actor=by, note=note, data={"until": until.isoformat()})
    return case


@transaction.atomic
def case_resolve(*, case_id: int, code: str, by: User, note: str = "") -> ExceptionCase:
    _require_buyer(by)
    if code not in ResolutionCode.values or code == ResolutionCode.CLEARED:
        raise ValidationError({"code": "Choose a resolution code."})
    note = _clean_note(note, required=code == ResolutionCode.NOT_AN_ISSUE)
    case = _locked(case_id)
    _resolve(case, code=code, note=note, by=by, kind=Kind.RESOLVED)
    return case


@transaction.atomic
def cases_bulk_resolve(*, case_ids: Iterable[int], code: str, by: User, note: str = "") -> list[ExceptionCase]:
    """Resolve each case with one code; all or none."""
    return [case_resolve(case_id=pk, code=code, by=by, note=note) for pk in _ordered_ids(case_ids)]


@transaction.atomic
def case_action_record(*, case_id: int, by: User | None, note: str, data: dict[str, Any] | None = None) -> None:
    """Note on the case that someone acted from it (approved the proposal, replayed the delivery...)."""
    case = ExceptionCase.objects.select_for_update().filter(pk=case_id).first()
    if case is None:
        return
    case.save(update_fields=["updated_at"])
    CaseActivity.objects.create(case=case, kind=Kind.ACTION, actor=by, note=note, data=data or {})


def cases_wake(*, now: dt.datetime | None = None) -> int:
    """Snoozed cases whose time came are open again (a periodic task). Returns how many woke."""
    now = now or timezone.now()
    woke = 0
    due = ExceptionCase.objects.filter(status=CaseStatus.SNOOZED, snoozed_until__lte=now)
    for case_id in list(due.values_list("pk", flat=True)[:1000]):
        with transaction.atomic():
            case = (
                ExceptionCase.objects.select_for_update(skip_locked=True)
                .filter(pk=case_id, status=CaseStatus.SNOOZED, snoozed_until__lte=now)
                .first()
            )
            if case is None:
                continue
            case.status = CaseStatus.IN_PROGRESS if case.assignee_id else CaseStatus.OPEN
            case.snoozed_until = None
            case.save(update_fields=["status", "snoozed_until", "updated_at"])
            CaseActivity.objects.create(case=case, kind=Kind.WOKE)
            woke += 1
    return woke


def _ordered_ids(case_ids: Iterable[int]) -> list[int]:
    """Distinct, in id order, so two bulk actions lock rows in the same order and cannot deadlock."""
    ids = sorted({int(pk) for pk in case_ids})
    if not ids:
        raise ValidationError({"cases": "Select at least one case."})
    if len(ids) > 200:
        raise ValidationError({"cases": f"Select at most 200 cases at once (you selected {len(ids)})."})
    return ids


def _notify_assignee(case: ExceptionCase, to: User, *, by: User | None, note: str = "") -> None:
    """E-mail a buyer that a case is now theirs, once the transaction commits."""
    ctx = {
        "case": case,
        "user": to,
        "by": by,
        "note": note,
        "case_url": settings.SUPPLYLINE_BASE_URL + reverse("exceptions:case-detail", args=[case.pk]),
    }
    message = EmailMultiAlternatives(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}Case #{case.pk}: {case.title}",
        body=render_to_string("exceptions/email/case_assigned.txt", ctx),
        to=[to.email],
    )
    message.attach_alternative(render_to_string("exceptions/email/case_assigned.html", ctx), "text/html")
    supplier_services.email_enqueue(message)


def _notify_assignee_of_many(cases: list[ExceptionCase], to: User, *, by: User) -> None:
    """One e-mail listing the cases a bulk assignment gave a buyer, once the transaction commits."""
    if len(cases) == 1:
        _notify_assignee(cases[0], to, by=by)
        return
    base = settings.SUPPLYLINE_BASE_URL
    ctx = {
        "cases": [(case, base + reverse("exceptions:case-detail", args=[case.pk])) for case in cases],
        "user": to,
        "by": by,
        "queue_url": base + reverse("exceptions:case-list") + "?view=mine",
    }
    message = EmailMultiAlternatives(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{len(cases)} cases assigned to you",
        body=render_to_string("exceptions/email/cases_assigned.txt", ctx),
        to=[to.email],
    )
    message.attach_alternative(render_to_string("exceptions/email/cases_assigned.html", ctx), "text/html")
    supplier_services.email_enqueue(message)


def case_alert(case: ExceptionCase, *, reason: str) -> None:
    """E-mail the case's assignee about a case a rule raised (supply risk, dead letters)."""
    if case.assignee is None or not case.assignee.is_active:
        return
    _notify_assignee(case, case.assignee, by=None, note=reason)


__all__ = [
    "CaseType",
    "Concern",
    "Finding",
    "case_action_record",
    "case_alert",
    "case_assign",
    "case_claim",
    "case_clear",
    "case_comment",
    "case_raise",
    "case_raise_created",
    "case_resolve",
    "case_snooze",
    "cases_bulk_assign",
    "cases_bulk_resolve",
    "cases_clear_except",
    "cases_wake",
]
