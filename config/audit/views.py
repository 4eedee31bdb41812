"""Buyers browse one object's audit trail: who changed what, when, through which channel and from where.

Buyers only: a supplier user gets 404, as for a page that does not exist, even for its own objects
(the trail names the distributor's staff and their addresses).
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import models
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from config.audit import context, selectors
from config.http import AuthedRequest
from config.keyset import InvalidCursor
from exceptions.models import ExceptionCase
from purchasing.models import PurchaseOrder, ShipmentNotice
from suppliers.models import ApiKey, Supplier, SupplierMembership, is_buyer


def _buyer_only(request: AuthedRequest) -> None:
    if not is_buyer(request.user):
        raise Http404


def _history(request: AuthedRequest, kind: str, root: models.Model, *, title: str, back: str) -> HttpResponse:
    ctx: dict[str, Any] = {"title": title, "back": back, "recorded": context.is_recorded(), "page": None}
    if ctx["recorded"]:
        after, before = request.GET.get("after"), request.GET.get("before")
        try:
            ctx["page"] = selectors.object_history(kind, root, after=after, before=before)
        except InvalidCursor as error:
            messages.warning(request, f"{error} Showing the newest changes.")
            ctx["page"] = selectors.object_history(kind, root)
    template = "audit/object_history.html#history" if request.htmx else "audit/object_history.html"
    return render(request, template, ctx)


@require_GET
@login_required
def po_history(request: AuthedRequest, number: str) -> HttpResponse:
    _buyer_only(request)
    po = get_object_or_404(PurchaseOrder.objects.visible_to(request.user), number=number)
    back = reverse("purchasing:po-detail", args=[po.number])
    return _history(request, "po", po, title=f"Purchase order {po.number}", back=back)


@require_GET
@login_required
def shipment_history(request: AuthedRequest, pk: int) -> HttpResponse:
    _buyer_only(request)
    notice = get_object_or_404(ShipmentNotice.objects.visible_to(request.user), pk=pk)
    back = reverse("purchasing:shipment-detail", args=[notice.pk])
    return _history(request, "shipment", notice, title=f"ASN {notice.number}", back=back)


@require_GET
@login_required
def case_history(request: AuthedRequest, pk: int) -> HttpResponse:
    _buyer_only(request)
    case = get_object_or_404(ExceptionCase.objects.visible_to(request.user), pk=pk)
    back = reverse("exceptions:case-detail", args=[case.pk])
    return _history(request, "case", case, title=f"Exception case #{case.pk}", back=back)


@require_GET
@login_required
def membership_history(request: AuthedRequest, pk: int) -> HttpResponse:
    _buyer_only(request)
    membership = get_object_or_404(SupplierMembership.objects.select_related("user", "supplier"), pk=pk)
    back = reverse("admin:suppliers_suppliermembership_change", args=[membership.pk])
    title = f"Membership of {membership.user.email} at {membership.supplier.code}"
    return _history(request, "membership", membership, title=title, back=back)


@require_GET
@login_required
def api_key_history(request: AuthedRequest, pk: int) -> HttpResponse:
    _buyer_only(request)
    api_key = get_object_or_404(ApiKey.objects.select_related("supplier"), pk=pk)
    back = reverse("admin:suppliers_apikey_change", args=[api_key.pk])
    title = f"API key {api_key.prefix}… of {api_key.supplier.code}"
    return _history(request, "api_key", api_key, title=title, back=back)


@require_GET
@login_required
def supplier_history(request: AuthedRequest, code: str) -> HttpResponse:
    _buyer_only(request)
    supplier = get_object_or_404(Supplier.objects.visible_to(request.user), code=code)
    back = reverse("suppliers:profile", args=[supplier.code])
    title = f"Supplier {supplier.code}: profile, contacts, addresses, item terms and invitations"
    return _history(request, "supplier", supplier, title=title, back=back)
