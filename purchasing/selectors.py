from collections import Counter
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from purchasing.models import POStatus, PurchaseOrder, PurchaseOrderLine, ScheduleLine
from suppliers.models import User


def purchase_order_list(*, user: User | AnonymousUser) -> QuerySet[PurchaseOrder]:
    """POs the user may see, with what the list shows joined in (no N+1)."""
    return PurchaseOrder.objects.visible_to(user).select_related("supplier", "site").with_line_totals()


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
