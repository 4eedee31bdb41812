from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from config.http import AuthedRequest
from purchasing import selectors
from suppliers import services
from suppliers.forms import ApiKeyCreateForm, NotificationSettingsForm
from suppliers.models import (
    ApiKey,
    NotificationKind,
    NotificationOptOut,
    Supplier,
    SupplierMembership,
    is_buyer,
)


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


def administered_supplier(request: AuthedRequest) -> QuerySet[Supplier]:
    """The active supplier, as a one-row queryset, when the user is its admin (API keys, compliance uploads).

    404 for buyers and for users who act for no supplier; 403 for a member whose role is not admin.
    """
    if is_buyer(request.user):
        raise Http404
    role = SupplierMembership.objects.acting(request.user).values_list("role", flat=True).first()
    if role is None:
        raise Http404
    if role not in SupplierMembership.ADMIN_ROLES:
        raise PermissionDenied("Only your supplier's admins may do this. Ask one of them.")
    return Supplier.objects.filter(pk__in=SupplierMembership.objects.supplier_ids_of(request.user))


@require_GET
@login_required
def api_key_list(request: AuthedRequest) -> HttpResponse:
    suppliers = administered_supplier(request)
    keys = ApiKey.objects.filter(supplier__in=suppliers).select_related("supplier", "created_by")
    return render(request, "suppliers/api_key_list.html", {"keys": keys, "show_supplier": len(suppliers) > 1})


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def api_key_create(request: AuthedRequest) -> HttpResponse:
    """The new key is on the response to the POST only: never in a URL, a session or a log."""
    suppliers = administered_supplier(request)
    form = ApiKeyCreateForm(request.POST or None, suppliers=suppliers)
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_in_days"]
        api_key, secret = services.api_key_create(
            supplier=form.cleaned_data["supplier"],
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            by=request.user,
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
        return render(request, "suppliers/api_key_created.html", {"api_key": api_key, "secret": secret})
    return render(request, "suppliers/api_key_create.html", {"form": form})


@require_http_methods(["GET", "POST"])
@login_required
def api_key_revoke(request: AuthedRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST revokes."""
    suppliers = administered_supplier(request)
    api_key = get_object_or_404(ApiKey.objects.select_related("supplier"), pk=pk, supplier__in=suppliers)
    if request.method == "POST":
        if services.api_key_revoke(key=api_key, by=request.user):
            messages.success(request, f"The API key “{api_key.name}” is revoked: requests with it now fail.")
        return redirect("suppliers:api-key-list")
    return render(request, "suppliers/api_key_revoke.html", {"api_key": api_key})
