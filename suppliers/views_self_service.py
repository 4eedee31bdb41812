"""Supplier self-service pages: profile, contacts, ship-from addresses, item terms and the buyers' review of them.

Every page names the supplier by its code and reads it through ``self_service.supplier_get`` (visible to the
user, else 404). Each write checks the user's role for that action (``self_service.may_*``): a user of the
supplier without the role gets 403, anyone else 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import BaseForm as Form
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.http import AuthedRequest
from config.keyset import paginate_request
from suppliers import self_service
from suppliers.forms_self_service import (
    ContactForm,
    ShipFromAddressForm,
    SupplierProfileForm,
    TermsDecisionForm,
    TermsProposalForm,
)
from suppliers.models import ShipFromAddress, Supplier, SupplierContact, SupplierItem, is_buyer, is_purchasing_manager


def _allowed(may: bool) -> None:
    if not may:
        raise PermissionDenied("Your role at this supplier does not allow this.")


def _service_errors(form: Form, error: ValidationError) -> None:
    """Put the service's errors on the fields they name; a key the form lacks goes atop the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for key, errors in error.error_dict.items():
        form.add_error(key if key in form.fields else None, errors)


@require_GET
@login_required
def profile_home(request: AuthedRequest) -> HttpResponse:
    """A supplier user's own profile; buyers get the list of every supplier's profile."""
    if not is_buyer(request.user):
        own = Supplier.objects.visible_to(request.user).order_by("code").first()
        if own is None:
            raise Http404
        return redirect("suppliers:profile", code=own.code)
    page = paginate_request(request, Supplier.objects.select_related("buyer"), ordering=("code", "id"))
    return render(request, "suppliers/profile_list.html", {"page": page})


@require_GET
@login_required
def profile(request: AuthedRequest, code: str) -> HttpResponse:
    supplier = self_service.supplier_get(user=request.user, code=code)
    role = self_service.role_of(request.user, supplier)
    context = {
        "supplier": supplier,
        "contacts": list(supplier.contacts.all()),
        "addresses": list(supplier.ship_from_addresses.all()),
        "may_edit": self_service.role_may(role, "edit_profile"),
        "may_contacts": self_service.role_may(role, "manage_contacts"),
        "may_addresses": self_service.role_may(role, "manage_addresses"),
    }
    return render(request, "suppliers/profile_detail.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def profile_edit(request: AuthedRequest, code: str) -> HttpResponse:
    supplier = self_service.supplier_get(user=request.user, code=code)
    _allowed(self_service.may_edit_profile(request.user, supplier))
    form = SupplierProfileForm(request.POST or None, instance=supplier)
    if request.method == "POST" and form.is_valid():
        try:
            self_service.supplier_profile_update(supplier=supplier, by=request.user, changes=form.changes())
        except ValidationError as error:
            _service_errors(form, error)
        else:
            messages.success(request, "Your company profile is saved.")
            return redirect("suppliers:profile", code=supplier.code)
    status = 400 if form.is_bound else 200
    return render(request, "suppliers/profile_edit.html", {"supplier": supplier, "form": form}, status=status)


def _edit_page(
    request: AuthedRequest, supplier: Supplier, form: Form, save: Any, *, title: str, done: str
) -> HttpResponse:
    """The shared create/edit flow of contacts and addresses: validate, call the service, go back to the profile."""
    if request.method == "POST" and form.is_valid():
        try:
            save(form)
        except ValidationError as error:
            _service_errors(form, error)
        else:
            messages.success(request, done)
            return redirect("suppliers:profile", code=supplier.code)
    context = {"supplier": supplier, "form": form, "title": title}
    return render(request, "suppliers/profile_form.html", context, status=400 if form.is_bound else 200)


@require_http_methods(["GET", "POST"])
@login_required
def contact_create(request: AuthedRequest, code: str) -> HttpResponse:
    supplier = self_service.supplier_get(user=request.user, code=code)
    _allowed(self_service.may_manage_contacts(request.user, supplier))

    def save(form: ContactForm) -> None:
        self_service.contact_create(supplier=supplier, by=request.user, values=form.values())

    form = ContactForm(request.POST or None)
    return _edit_page(request, supplier, form, save, title="New contact", done="The contact is added.")


def _contact(supplier: Supplier, pk: int) -> SupplierContact:
    return get_object_or_404(SupplierContact, pk=pk, supplier=supplier)


@require_http_methods(["GET", "POST"])
@login_required
def contact_edit(request: AuthedRequest, code: str, pk: int) -> HttpResponse:
    supplier = self_service.supplier_get(user=request.user, code=code)
    contact = _contact(supplier, pk)
    _allowed(self_service.may_manage_contacts(request.user, supplier))

    def save(form: ContactForm) -> None:
        self_service.contact_update(contact=contact, by=request.user, values=form.values())

    form = ContactForm(request.POST or None, instance=contact)
    return _edit_page(request, supplier, form, save, title=f"Edit {contact.name}", done="The contact is saved.")


@require_http_methods(["GET", "POST"])
@login_required
def contact_delete(request: AuthedRequest, code: str, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes."""
    supplier = self_service.supplier_get(user=request.user, code=code)
    contact = _contact(supplier, pk)
    _allowed(self_service.may_manage_contacts(request.user, supplier))
    if request.method == "POST":
        self_service.contact_delete(contact=contact, by=request.user)
        messages.success(request, f"{contact.name} is no longer a contact.")
        return redirect("suppliers:profile", code=supplier.code)
    return render(request, "suppliers/contact_delete.html", {"supplier": supplier, "contact": contact})


@require_http_methods(["GET", "POST"])
@login_required
def address_create(request: AuthedRequest, code: str) -> HttpResponse:
    supplier = self_service.supplier_get(user=request.user, code=code)
    _allowed(self_service.may_manage_addresses(request.user, supplier))

    def save(form: ShipFromAddressForm) -> None:
        self_service.ship_from_address_create(supplier=supplier, by=request.user, values=form.values())

    form = ShipFromAddressForm(request.POST or None)
    return _edit_page(request, supplier, form, save, title="New ship-from address", done="The address is added.")


def _address(supplier: Supplier, pk: int) -> ShipFromAddress:
    return get_object_or_404(ShipFromAddress, pk=pk, supplier=supplier)


@require_http_methods(["GET", "POST"])
@login_required
def address_edit(request: AuthedRequest, code: str, pk: int) -> HttpResponse:
    supplier = self_service.supplier_get(user=request.user, code=code)
    address = _address(supplier, pk)
    _allowed(self_service.may_manage_addresses(request.user, supplier))

    def save(form: ShipFromAddressForm) -> None:
        self_service.ship_from_address_update(address=address, by=request.user, values=form.values())

    form = ShipFromAddressForm(request.POST or None, instance=address)
    return _edit_page(request, supplier, form, save, title=f"Edit {address.label}", done="The address is saved.")


@require_POST
@login_required
def address_deactivate(request: AuthedRequest, code: str, pk: int) -> HttpResponse:
    supplier = self_service.supplier_get(user=request.user, code=code)
    address = _address(supplier, pk)
    _allowed(self_service.may_manage_addresses(request.user, supplier))
    try:
        self_service.ship_from_address_deactivate(address=address, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"“{address.label}” is inactive: new shipment notices no longer offer it.")
    return redirect("suppliers:profile", code=supplier.code)


@require_GET
@login_required
def supplier_items(request: AuthedRequest, code: str) -> HttpResponse:
    """The supplier's items and terms, each with its open proposal, and the latest decisions."""
    supplier = self_service.supplier_get(user=request.user, code=code)
    page = paginate_request(request, self_service.supplier_items(supplier), ordering=self_service.ITEM_ORDERING)
    context = {
        "supplier": supplier,
        "page": page,
        "decisions": self_service.recent_terms_decisions(supplier),
        "may_propose": self_service.may_propose_terms(request.user, supplier),
    }
    return render(request, "suppliers/supplier_items.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def terms_propose(request: AuthedRequest, code: str, pk: int) -> HttpResponse:
    supplier = self_service.supplier_get(user=request.user, code=code)
    item = get_object_or_404(SupplierItem.objects.select_related("item"), pk=pk, supplier=supplier)
    _allowed(self_service.may_propose_terms(request.user, supplier))
    form = TermsProposalForm(request.POST or None, initial={"effective_date": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            self_service.terms_propose(supplier_item=item, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            _service_errors(form, error)
        else:
            messages.success(request, f"Your new terms for {item.supplier_part_number} await the buyer's review.")
            return redirect("suppliers:supplier-items", code=supplier.code)
    context = {"supplier": supplier, "item": item, "form": form}
    return render(request, "suppliers/terms_propose.html", context, status=400 if form.is_bound else 200)


@require_GET
@login_required
def terms_proposal_list(request: AuthedRequest) -> HttpResponse:
    """Proposed item terms awaiting a buyer, oldest first."""
    if not self_service.may_review_terms(request.user):
        raise Http404
    default = "all" if is_purchasing_manager(request.user) else "mine"
    scope = request.GET.get("scope", default)
    scope = scope if scope in ("mine", "all") else default
    queryset = self_service.terms_review_queue(user=request.user, scope=scope)
    page = paginate_request(request, queryset, ordering=self_service.REVIEW_ORDERING)
    return render(request, "suppliers/terms_proposal_list.html", {"page": page, "scope": scope})


@require_POST
@login_required
def terms_proposal_decide(request: AuthedRequest, pk: int) -> HttpResponse:
    proposal = self_service.terms_proposal_for_review(user=request.user, pk=pk)
    form = TermsDecisionForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            proposal = self_service.terms_decide(
                proposal=proposal,
                by=request.user,
                approve=form.cleaned_data["decision"] == "approve",
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = " ".join(str(m) for messages_ in form.errors.values() for m in messages_)
    if request.htmx:
        # As stored now (decided here, or by someone else first), with the supplier and item the row shows.
        context = {"proposal": self_service.terms_proposal_reread(proposal), "error": error}
        return render(request, "suppliers/terms_proposal_list.html#terms-row", context, status=400 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request,
            f"{proposal.supplier.code} {proposal.supplier_item.supplier_part_number}: "
            f"{proposal.get_status_display().lower()}.",
        )
    return redirect("suppliers:terms-proposal-list")
