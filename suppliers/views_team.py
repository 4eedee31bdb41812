"""A supplier's team (members, roles, invitations), accepting an invitation, and choosing the active supplier.

Access: every page acts on the user's active supplier only. Another supplier's member or invitation is
404; a member of the active supplier whose role may not change the team gets the team page read-only
and 403 on every change (docs/organisations.md).
"""

from __future__ import annotations

from allauth.account.adapter import get_adapter
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.http import AuthedRequest
from config.tenancy import token_credential
from suppliers import team
from suppliers.adapters import INVITATION_SESSION_KEY
from suppliers.forms import ActiveSupplierForm, InvitationForm, RoleForm
from suppliers.models import (
    ACTIVE_SUPPLIER_ATTRIBUTE,
    ACTIVE_SUPPLIER_SESSION_KEY,
    Invitation,
    Supplier,
    SupplierMembership,
    User,
    is_buyer,
)

Role = SupplierMembership.Role
NOT_ADMIN = "Only your supplier's admins may change the team. Ask one of them."


def _acting_membership(request: AuthedRequest) -> SupplierMembership:
    """The membership the user acts through; 404 for buyers and for users who act for no supplier."""
    if is_buyer(request.user):
        raise Http404
    membership = SupplierMembership.objects.acting(request.user).select_related("supplier").first()
    if membership is None:
        raise Http404
    return membership


def _require_admin(request: AuthedRequest) -> SupplierMembership:
    membership = _acting_membership(request)
    if membership.role not in SupplierMembership.ADMIN_ROLES:
        raise PermissionDenied(NOT_ADMIN)
    return membership


def _member(request: AuthedRequest, pk: int) -> SupplierMembership:
    """One membership of the active supplier (404 for any other), for an admin of it (else 403)."""
    acting = _acting_membership(request)
    membership = get_object_or_404(
        SupplierMembership.objects.select_related("user", "supplier"), pk=pk, supplier_id=acting.supplier_id
    )
    if acting.role not in SupplierMembership.ADMIN_ROLES:
        raise PermissionDenied(NOT_ADMIN)
    return membership


def _invitation(request: AuthedRequest, pk: int) -> Invitation:
    acting = _acting_membership(request)
    invitation = get_object_or_404(Invitation.objects.select_related("supplier"), pk=pk, supplier_id=acting.supplier_id)
    if acting.role not in SupplierMembership.ADMIN_ROLES:
        raise PermissionDenied(NOT_ADMIN)
    return invitation


def members_of(supplier: Supplier) -> list[SupplierMembership]:
    """Active members first, then by name and address."""
    memberships = SupplierMembership.objects.filter(supplier=supplier).select_related("user")
    return sorted(memberships, key=lambda m: (not m.is_active, str(m.user).lower(), m.user.email.lower()))


@require_GET
@login_required
def team_page(request: AuthedRequest) -> HttpResponse:
    acting = _acting_membership(request)
    is_admin = acting.role in SupplierMembership.ADMIN_ROLES
    invitations = (
        list(Invitation.objects.open().filter(supplier_id=acting.supplier_id).select_related("invited_by"))
        if is_admin
        else []
    )
    context = {
        "supplier": acting.supplier,
        "members": members_of(acting.supplier),
        "invitations": invitations,
        "may_manage": is_admin,
        "me": acting,
        "roles": Role.choices,
    }
    return render(request, "suppliers/team.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def invitation_create(request: AuthedRequest) -> HttpResponse:
    acting = _require_admin(request)
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation, _token = team.invitation_send(supplier=acting.supplier, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"An invitation is on its way to {invitation.email}.")
            return redirect("suppliers:team")
    status = 400 if form.is_bound else 200
    context = {"form": form, "supplier": acting.supplier, "days": team.invitation_lifetime().days}
    return render(request, "suppliers/invitation_create.html", context, status=status)


@require_POST
@login_required
def invitation_resend(request: AuthedRequest, pk: int) -> HttpResponse:
    invitation = _invitation(request, pk)
    try:
        team.invitation_resend(invitation=invitation, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"A new link is on its way to {invitation.email}; the old one no longer works.")
    return redirect("suppliers:team")


@require_POST
@login_required
def invitation_revoke(request: AuthedRequest, pk: int) -> HttpResponse:
    invitation = _invitation(request, pk)
    if team.invitation_revoke(invitation=invitation, by=request.user):
        messages.success(request, f"The invitation of {invitation.email} is revoked: its link no longer works.")
    else:
        messages.info(request, f"The invitation of {invitation.email} was already {invitation.status}.")
    return redirect("suppliers:team")


@require_POST
@login_required
def membership_role(request: AuthedRequest, pk: int) -> HttpResponse:
    membership = _member(request, pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Role: choose admin, order desk, shipping or viewer. Nothing was changed.")
        return redirect("suppliers:team")
    try:
        team.membership_role_set(membership=membership, role=form.cleaned_data["role"], by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{membership.user} is now {Role(form.cleaned_data['role']).label.lower()}.")
    return redirect("suppliers:team")


@require_POST
@login_required
def membership_deactivate(request: AuthedRequest, pk: int) -> HttpResponse:
    membership = _member(request, pk)
    try:
        team.membership_deactivate(membership=membership, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, f"{membership.user} is deactivated: their access to {membership.supplier.name} ends now."
        )
    return redirect("suppliers:team")


@require_POST
@login_required
def membership_reactivate(request: AuthedRequest, pk: int) -> HttpResponse:
    membership = _member(request, pk)
    team.membership_reactivate(membership=membership, by=request.user)
    messages.success(request, f"{membership.user} is active again, as {membership.get_role_display().lower()}.")
    return redirect("suppliers:team")


@require_GET
@login_required
def supplier_members(request: AuthedRequest, code: str) -> HttpResponse:
    """A supplier's members, read-only, for buyers (who to call); everyone else gets 404."""
    if not is_buyer(request.user):
        raise Http404
    supplier = get_object_or_404(Supplier, code=code)
    context = {"supplier": supplier, "members": members_of(supplier), "may_manage": False, "invitations": []}
    return render(request, "suppliers/supplier_members.html", context)


# --- choosing the active supplier ----------------------------------------------------------------------------------


@require_POST
@login_required
def active_supplier_set(request: AuthedRequest) -> HttpResponse:
    """Act for another of the user's suppliers: checked against their active memberships, kept in the session.

    A supplier the user is no active member of is 404, as any other supplier's object is (the switcher
    offers only the user's own; buyers act for none)."""
    form = ActiveSupplierForm(request.POST, suppliers=Supplier.objects.switchable_for(request.user))
    if is_buyer(request.user) or not form.is_valid():
        raise Http404("You are not an active member of that supplier.")
    supplier = form.cleaned_data["supplier"]
    request.session[ACTIVE_SUPPLIER_SESSION_KEY] = supplier.pk
    setattr(request.user, ACTIVE_SUPPLIER_ATTRIBUTE, supplier.pk)
    messages.success(request, f"You now act for {supplier.name}.")
    return redirect(_safe_next(request) or "home")


def _safe_next(request: HttpRequest) -> str | None:
    """Back to the page the switch was made from, if it is one of ours (the navigation bar sends it only
    from pages that name no object: a detail page of the previous supplier would be 404 now)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


# --- accepting an invitation ---------------------------------------------------------------------------------------


@token_credential
@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The link in an invitation: open to anyone holding it (the token is the credential).

    A new person goes on to allauth's sign-up for the invited address; a person with an account signs
    in as that address and confirms here; a link that no longer works says why.
    """
    invitation = team.invitation_by_token(token)
    if invitation is None:
        return _dead_link(request, "unknown", status=404)
    if not invitation.is_pending:
        return _dead_link(request, invitation.status, invitation=invitation, status=410)
    if not invitation.supplier_has_access:
        # Sign-up and accepting refuse it too (the adapter, team.invitation_accept): say so before either.
        return _dead_link(request, "no_access", invitation=invitation, status=410)
    user = request.user
    if not isinstance(user, User):  # signed out
        if User.objects.filter(email__iexact=invitation.email).exists():
            context = {"invitation": invitation, "next": request.path}
            return render(request, "suppliers/invitation_sign_in.html", context)
        request.session[INVITATION_SESSION_KEY] = invitation.pk
        get_adapter(request).stash_verified_email(request, invitation.email)  # fills in the sign-up form
        return redirect("account_signup")
    if user.email.lower() != invitation.email:
        return render(request, "suppliers/invitation_other_account.html", {"email": user.email}, status=403)
    if request.method == "POST":
        try:
            membership = team.invitation_accept(invitation=invitation, user=user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("home")
        request.session[ACTIVE_SUPPLIER_SESSION_KEY] = membership.supplier_id
        messages.success(request, f"You joined {membership.supplier.name} as {membership.get_role_display().lower()}.")
        return redirect("home")
    return render(request, "suppliers/invitation_confirm.html", {"invitation": invitation})


def _dead_link(request: HttpRequest, state: str, *, status: int, invitation: Invitation | None = None) -> HttpResponse:
    context = {"state": state, "invitation": invitation}
    return render(request, "suppliers/invitation_dead.html", context, status=status)
