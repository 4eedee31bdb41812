from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from config.http import AuthedRequest
from purchasing import selectors
from suppliers import services
from suppliers.forms import NotificationSettingsForm
from suppliers.models import NotificationKind, NotificationOptOut, Supplier, is_buyer


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


@login_required
def notification_settings(request: AuthedRequest) -> HttpResponse:
    """Each user chooses which kinds of e-mail they get."""
    if request.method == "POST":
        form = NotificationSettingsForm(request.POST)
        if form.is_valid():
            services.notification_preferences_set(user=request.user, wanted=form.cleaned_data["wanted"])
            messages.success(request, "Your e-mail settings are saved.")
            return redirect("suppliers:notification-settings")
    else:
        opted_out = set(NotificationOptOut.objects.filter(user=request.user).values_list("kind", flat=True))
        form = NotificationSettingsForm(initial={"wanted": [k for k in NotificationKind.values if k not in opted_out]})
    return render(request, "suppliers/notification_settings.html", {"form": form})
