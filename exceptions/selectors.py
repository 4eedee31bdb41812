"""Reads of the buyers' queue: the list with its counts and pages, one case with its history.

Every page costs a fixed number of queries: the list joins what its rows show, the counts are two
grouped queries, and a case's history comes with its actors in one prefetch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet, Value
from django.http import Http404
from django.utils import timezone
from django.utils.formats import date_format

from config.keyset import KeysetPage, encode_cursor, paginate
from exceptions.models import CaseActivity, CaseType, ExceptionCase, ResolutionCode, Severity
from purchasing.models import AcknowledgementLine
from suppliers.models import BUYERS_GROUP, SupplierMembership, User

# A case is "due soon" when its SLA ends within this window (and has not ended yet).
DUE_SOON = dt.timedelta(hours=24)
# The roles of a supplier's users that hear from a buyer about a case: those who answer its orders.
CONTACT_ROLES = (SupplierMembership.Role.ADMIN, SupplierMembership.Role.ORDER_DESK)

# The unresolved queue's order: overdue cases first, then by severity, SLA due time and id. Whether a
# case is overdue depends on the clock, so no index can hold this order; each part (overdue, not yet
# due) is a range of ``case_queue_idx`` (severity, due_at, id), and a page reads one part, then the next.
QUEUE_ORDER = ("overdue", "severity", "due_at", "id")
# Resolved cases are listed most recently resolved first (``case_resolved_idx``).
RESOLVED_ORDER = ("-resolved_at", "-id")


def case_queue(*, user: User) -> QuerySet[ExceptionCase]:
    """The cases the user may see (every case for a buyer, none for anyone else), with what a row shows."""
    return ExceptionCase.objects.visible_to(user).select_related(
        "supplier", "site", "item", "assignee", "po", "po_line", "shipment", "delivery__connector"
    )


def quick_views(*, user: User, now: dt.datetime) -> dict[str, Q]:
    """The queue's quick views, by name: what each narrows the list to."""
    return {
        "mine": Q(assignee=user),
        "unassigned": Q(assignee__isnull=True),
        "due_soon": Q(due_at__gt=now, due_at__lte=now + DUE_SOON),
        "overdue": Q(due_at__lte=now),
    }


def queue_counts(queryset: QuerySet[ExceptionCase], *, user: User, now: dt.datetime) -> dict[str, int]:
    """How many of ``queryset`` each quick view holds ("all" too), in one query."""
    views = quick_views(user=user, now=now)
    counts = {name: Count("pk", filter=condition) for name, condition in views.items()}
    return queryset.order_by().aggregate(all=Count("pk"), **counts)


@dataclass(frozen=True)
class TypeCounts:
    """One case type's cases, per severity (most urgent first) and in all."""

    type: str
    label: str
    by_severity: list[tuple[int, int]]
    total: int


def queue_breakdown(queryset: QuerySet[ExceptionCase]) -> list[TypeCounts]:
    """The cases of ``queryset`` by type and severity, in one grouped query; types with no case left out."""
    grouped = queryset.order_by().values_list("type", "severity").annotate(n=Count("pk"))
    cells = {(case_type, severity): n for case_type, severity, n in grouped}
    rows = []
    for case_type, label in CaseType.choices:
        by_severity = [(severity, cells.get((case_type, severity), 0)) for severity in Severity.values]
        total = sum(n for _, n in by_severity)
        if total:
            rows.append(TypeCounts(case_type, label, by_severity, total))
    return rows


def case_queue_page(
    queryset: QuerySet[ExceptionCase],
    *,
    now: dt.datetime,
    page_size: int,
    after: str | None = None,
    before: str | None = None,
) -> KeysetPage[ExceptionCase]:
    """One page of unresolved cases in ``QUEUE_ORDER``, after or before a cursor; at most two queries.

    The overdue part comes first, then the part not yet due, each read in index order. A page
    takes what it can from the part its cursor is in and fills up from the next part. A case that
    falls due between two pages moves up to the overdue part, as it should; the next pages do not
    show it again. Raises ``InvalidCursor`` for a cursor this order did not produce.
    """
    overdue = queryset.filter(due_at__lte=now).annotate(overdue=Value(0))
    upcoming = queryset.filter(due_at__gt=now).annotate(overdue=Value(1))
    forward = not before
    parts = [overdue, upcoming] if forward else [upcoming, overdue]
    rows: list[ExceptionCase] = []
    more = False
    for part in parts:
        wanted = page_size - len(rows)
        # A full page still asks the next part for one row: is there a page after this one?
        page = paginate(part, ordering=QUEUE_ORDER, page_size=max(wanted, 1), after=after, before=before)
        if wanted == 0:
            more = bool(page.items)
            break
        rows = [*rows, *page.items] if forward else [*page.items, *rows]
        if page.next_cursor if forward else page.previous_cursor:
            more = True
            break
    has_next, has_previous = (more, bool(after)) if forward else (True, more)
    return KeysetPage(
        items=rows,
        next_cursor=_queue_cursor(rows[-1]) if rows and has_next else None,
        previous_cursor=_queue_cursor(rows[0]) if rows and has_previous else None,
    )


def _queue_cursor(case: ExceptionCase) -> str:
    return encode_cursor([getattr(case, name) for name in QUEUE_ORDER])


def case_get(*, user: User, pk: int) -> ExceptionCase:
    """One case with its history (oldest first, with who did it), or 404 for anyone but a buyer."""
    activities = CaseActivity.objects.select_related("actor").order_by("at", "id")
    case = (
        case_queue(user=user)
        .select_related("resolved_by", "po_line__item", "delivery__event")
        .prefetch_related(Prefetch("activities", queryset=activities))
        .filter(pk=pk)
        .first()
    )
    if case is None:
        raise Http404("No such case.")
    return case


def assignable_buyers() -> QuerySet[User]:
    """The people a case can go to: active buyers (``is_buyer``), by name."""
    buyers = Q(is_superuser=True) | Q(is_staff=True, groups__name=BUYERS_GROUP)
    return User.objects.filter(buyers, is_active=True).distinct().order_by("first_name", "last_name", "email")


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a case's history, as the page shows it."""

    at: dt.datetime
    actor: str
    what: str
    note: str


def case_history(case: ExceptionCase) -> list[HistoryEntry]:
    """The case's activities (prefetched by ``case_get``), oldest first, each saying what happened and by whom.

    Assignments name their assignee by id; the names are read in one query.
    """
    activities = list(case.activities.all())
    ids = {a.data["assignee"] for a in activities if a.kind == CaseActivity.Kind.ASSIGNED and a.data.get("assignee")}
    names = {pk: person_name(user) for pk, user in User.objects.in_bulk(ids).items()} if ids else {}
    return [
        HistoryEntry(
            at=activity.at,
            actor=person_name(activity.actor) if activity.actor else "Supplyline",
            what=_what(activity, names),
            note=activity.note,
        )
        for activity in activities
    ]


def person_name(user: User) -> str:
    """How the queue names a person: full name, else e-mail address."""
    return user.get_full_name() or user.email


def _what(activity: CaseActivity, names: dict[int, str]) -> str:
    data = activity.data or {}
    kind = activity.kind
    if kind == CaseActivity.Kind.ASSIGNED:
        assignee = data.get("assignee")
        return f"Assigned to {names.get(assignee, 'a former user')}" if assignee else "Unassigned"
    if kind == CaseActivity.Kind.SNOOZED and data.get("until"):
        until = timezone.localtime(dt.datetime.fromisoformat(data["until"]))
        return f"Snoozed until {date_format(until, 'DATETIME_FORMAT')}"
    if kind in (CaseActivity.Kind.RESOLVED, CaseActivity.Kind.CLEARED) and data.get("code"):
        label = ResolutionCode(data["code"]).label if data["code"] in ResolutionCode.values else data["code"]
        return f"{activity.get_kind_display()}: {label}"
    if kind == CaseActivity.Kind.UPDATED and data.get("changed"):
        return f"Updated by its rule ({', '.join(data['changed'])} changed)"
    if kind == CaseActivity.Kind.ACTION and data.get("action") == "contact":
        return f"Wrote to the supplier ({', '.join(data.get('to', []))})"
    return activity.get_kind_display()


def case_pending_proposal(case: ExceptionCase) -> AcknowledgementLine | None:
    """The supplier's proposal on the case's PO line that waits for a buyer, if there is one."""
    if case.po_line_id is None:
        return None
    pending = AcknowledgementLine.objects.filter(line_id=case.po_line_id, outcome=AcknowledgementLine.Outcome.PENDING)
    return pending.select_related("reason_code", "line__po").order_by("-id").first()


def supplier_contacts(case: ExceptionCase) -> list[User]:
    """The supplier's active users who answer its orders (admins and order desk): who a buyer writes to."""
    if case.supplier_id is None:
        return []
    memberships = (
        SupplierMembership.objects.active()
        .filter(supplier_id=case.supplier_id, role__in=CONTACT_ROLES, user__is_active=True)
        .select_related("user")
        .order_by("user__email")
    )
    return [membership.user for membership in memberships]
