"""Reads of purchase orders, proposals and their history."""

from collections import Counter
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from purchasing.filters import TABS
from purchasing.models import (
    AcknowledgementLine,
    HistoryEntry,
    OutboundDocument,
    POStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    ScheduleLine,
)
from suppliers.models import SupplierMembership, User, is_buyer

# Roles that may answer a PO; shipping users and viewers may not.
ACKNOWLEDGING_ROLES = SupplierMembership.ACKNOWLEDGING_ROLES


def purchase_order_list(*, user: User | AnonymousUser) -> QuerySet[PurchaseOrder]:
    """POs the user may see, with what the list shows joined in (no N+1).

    Line totals are annotated by the caller on the page it shows (``with_line_totals``),
    so the tab counts aggregate over plain rows.
    """
    return PurchaseOrder.objects.visible_to(user).select_related("supplier", "site")


def purchase_order_tab_counts(queryset: QuerySet[PurchaseOrder]) -> dict[str, int]:
    """How many POs each inbox tab holds, in one query."""
    now = timezone.now()
    counts: dict[str, Any] = {name: Count("pk", filter=condition) for name, (_, condition) in TABS.items()}
    counts["overdue"] = Count(
        "pk", filter=Q(status__in=PurchaseOrder.AWAITING_ACK_STATUSES, acknowledgement_due__lt=now)
    )
    counts["all"] = Count("pk")
    return queryset.order_by().aggregate(**counts)


def acknowledgeable_po_get(*, user: User, number: str) -> PurchaseOrder:
    """A PO the user may answer for its supplier (a membership, not buyer rights), or 404."""
    supplier_ids = SupplierMembership.objects.supplier_ids_of(user)
    try:
        return PurchaseOrder.objects.select_related("supplier", "site").get(number=number, supplier_id__in=supplier_ids)
    except PurchaseOrder.DoesNotExist:
        raise Http404("No such purchase order.") from None


def may_acknowledge(*, user: User, po: PurchaseOrder) -> bool:
    """Whether the user's active membership is the PO's supplier's, in a role that answers POs."""
    return (
        SupplierMembership.objects.acting(user)
        .filter(supplier_id=po.supplier_id, role__in=ACKNOWLEDGING_ROLES)
        .exists()
    )


def po_history(*, po: PurchaseOrder, limit: int = 100) -> list[HistoryEntry]:
    return list(po.history.select_related("actor").order_by("-at", "-id")[:limit])


def pending_answers_of(*, po: PurchaseOrder) -> dict[int, AcknowledgementLine]:
    """The proposals (pending answers) on a PO, by line id."""
    answers = AcknowledgementLine.objects.filter(line__po=po, outcome=AcknowledgementLine.Outcome.PENDING)
    return {a.line_id: a for a in answers.select_related("reason_code")}


def proposal_queue(*, user: User, scope: str) -> QuerySet[AcknowledgementLine]:
    """Proposals waiting for a buyer: the buyer's own suppliers (scope "mine") or all."""
    queryset = AcknowledgementLine.objects.filter(outcome=AcknowledgementLine.Outcome.PENDING).select_related(
        "line__po__supplier", "line__po__site", "line__item", "reason_code", "acknowledgement__submitted_by"
    )
    if scope == "mine":
        queryset = queryset.filter(line__po__supplier__buyer=user)
    return queryset


def proposal_get(*, user: User, pk: int) -> AcknowledgementLine:
    """A proposal for a buyer to decide, or 404 (suppliers never reach one)."""
    if not is_buyer(user):
        raise Http404
    try:
        return AcknowledgementLine.objects.select_related("line__po__supplier", "line__item").get(pk=pk)
    except AcknowledgementLine.DoesNotExist:
        raise Http404("No such proposal.") from None


def purchase_order_get(*, user: User | AnonymousUser, number: str) -> PurchaseOrder:
    """One PO with its lines and schedule lines, or 404 when the user may not see it."""
    lines = PurchaseOrderLine.objects.select_related("item").prefetch_related(
        Prefetch("schedule_lines", queryset=ScheduleLine.objects.order_by("schedule_number"))
    )
    try:
        return (
            PurchaseOrder.objects.visible_to(user)
            .select_related("supplier", "site", "buyer")
            .prefetch_related(Prefetch("lines", queryset=lines.order_by("line_number")))
            .get(number=number)
        )
    except PurchaseOrder.DoesNotExist:
        raise Http404("No such purchase order.") from None


def purchase_order_status_counts(*, user: User | AnonymousUser) -> dict[str, Any]:
    """How many visible POs are in each status, in the state machine's order, plus overdue acknowledgements."""
    visible = PurchaseOrder.objects.visible_to(user)
    counts = Counter({row["status"]: row["n"] for row in visible.order_by().values("status").annotate(n=Count("pk"))})
    return {
        "by_status": [(POStatus(value), counts.get(value, 0)) for value in POStatus.values],
        "total": sum(counts.values()),
        "awaiting_acknowledgement": sum(counts.get(s, 0) for s in PurchaseOrder.AWAITING_ACK_STATUSES),
        "acknowledgement_overdue": visible.acknowledgement_overdue(timezone.now()).count(),
    }


def purchase_orders_due_soon(*, user: User | AnonymousUser, limit: int = 8) -> list[PurchaseOrder]:
    """POs awaiting acknowledgement, the most urgent first."""
    return list(
        PurchaseOrder.objects.visible_to(user)
        .awaiting_acknowledgement()
        .select_related("supplier", "site")
        .order_by("acknowledgement_due", "id")[:limit]
    )


def purchase_order_edi_documents(*, po: PurchaseOrder) -> list[OutboundDocument]:
    """The 850s or ORDERS the PO went out as, newest first (without their bytes)."""
    return list(po.edi_documents.defer("content").order_by("-created_at", "-id"))
