from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from purchasing import selectors
from suppliers.models import Supplier, is_buyer


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Where a login lands: buyers on theirs, supplier users on their supplier's."""
    return redirect("suppliers:buyer-home" if is_buyer(request.user) else "suppliers:supplier-home")


@require_GET
@login_required
def supplier_home(request: HttpRequest) -> HttpResponse:
    if is_buyer(request.user):
        return redirect("suppliers:buyer-home")
    suppliers = list(Supplier.objects.visible_to(request.user))
    context = {
        "suppliers": suppliers,
        "counts": selectors.purchase_order_status_counts(user=request.user),
        "due_soon": selectors.purchase_orders_due_soon(user=request.user),
    }
    return render(request, "suppliers/supplier_home.html", context)


@require_GET
@login_required
def buyer_home(request: HttpRequest) -> HttpResponse:
    if not is_buyer(request.user):
        raise Http404
    context = {
        "counts": selectors.purchase_order_status_counts(user=request.user),
        "due_soon": selectors.purchase_orders_due_soon(user=request.user),
        "my_supplier_count": Supplier.objects.filter(buyer_id=request.user.pk).count(),
    }
    return render(request, "suppliers/buyer_home.html", context)
