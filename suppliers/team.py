"""A supplier's team: invitations by e-mail, members' roles, deactivating and reactivating them.

Every change of a supplier's team locks the supplier's row first, so two admins changing the team at
once queue up: the rule that a supplier keeps at least one active admin cannot be raced past.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from suppliers.models import Invitation, Supplier, SupplierMembership, User
from suppliers.services import email_enqueue

Role = SupplierMembership.Role


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_lifetime() -> timedelta:
    return timedelta(days=int(settings.SUPPLYLINE_INVITATION_DAYS))


def _lock_supplier(supplier_id: int) -> Supplier:
    return Supplier.objects.select_for_update().get(pk=supplier_id)


def _validate_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError({"role": f"Choose a role: {', '.join(str(label) for label in Role.labels)}."})


@transaction.atomic
def invitation_send(*, supplier: Supplier, email: str, role: str, by: User | None) -> tuple[Invitation, str]:
    """Invite ``email`` to join ``supplier`` as ``role`` and queue the mail with the link.

    Returns the invitation and its token, which only the mail carries (the caller must not show it).

    Refuses an address that is already a member (active or not) or already has an open invitation:
    the admin reactivates the one or resends the other instead.
    """
    _lock_supplier(supplier.pk)
    email = User.objects.normalize_email(email.strip()).lower()
    _validate_role(role)
    membership = SupplierMembership.objects.filter(supplier=supplier, user__email__iexact=email).first()
    if membership is not None:
        state = "an active member" if membership.is_active else "a deactivated member: reactivate them instead"
        raise ValidationError({"email": f"{email} is already {state}."})
    if Invitation.objects.open().filter(supplier=supplier, email__iexact=email).exists():
        raise ValidationError({"email": f"{email} has an open invitation already: resend or revoke it."})
    invitation = Invitation(supplier=supplier, email=email, role=role, invited_by=by)
    token = _issue_token(invitation)
    invitation.full_clean(exclude=["token_hash"])
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError:  # a second invitation of the same address raced this one in
        raise ValidationError({"email": f"{email} has an open invitation already: resend or revoke it."}) from None
    _send_invitation_mail(invitation, token)
    return invitation, token


def _issue_token(invitation: Invitation) -> str:
    token = secrets.token_urlsafe(32)
    invitation.token_hash = hash_token(token)
    invitation.sent_at = timezone.now()
    invitation.expires_at = invitation.sent_at + invitation_lifetime()
    return token


def _send_invitation_mail(invitation: Invitation, token: str) -> None:
    context = {
        "invitation": invitation,
        "supplier": invitation.supplier,
        "inviter": str(invitation.invited_by)
        if invitation.invited_by
        else f"An administrator of {invitation.supplier.name}",
        "accept_url": settings.SUPPLYLINE_BASE_URL + reverse("suppliers:invitation-accept", args=[token]),
        "days": int(settings.SUPPLYLINE_INVITATION_DAYS),
    }
    subject = render_to_string("suppliers/email/invitation_subject.txt", context).strip()
    message = EmailMultiAlternatives(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}",
        body=render_to_string("suppliers/email/invitation.txt", context),
        to=[invitation.email],
    )
    message.attach_alternative(render_to_string("suppliers/email/invitation.html", context), "text/html")
    email_enqueue(message)


@transaction.atomic
def invitation_resend(*, invitation: Invitation, by: User | None) -> tuple[Invitation, str]:
    """A fresh link (the old one stops working) valid for the full lifetime again, mailed again; returns the
    invitation and the new token, as ``invitation_send`` does."""
    _lock_supplier(invitation.supplier_id)
    invitation = Invitation.objects.select_for_update().select_related("supplier").get(pk=invitation.pk)
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise ValidationError(f"The invitation of {invitation.email} is {invitation.status}: it cannot be resent.")
    token = _issue_token(invitation)
    invitation.invited_by = by or invitation.invited_by
    invitation.save(update_fields=["token_hash", "sent_at", "expires_at", "invited_by"])
    _send_invitation_mail(invitation, token)
    return invitation, token


def invitation_revoke(*, invitation: Invitation, by: User | None) -> bool:
    """Kill the link for good; False if the invitation was accepted or revoked already."""
    revoked = Invitation.objects.open().filter(pk=invitation.pk).update(revoked_at=timezone.now(), revoked_by=by)
    invitation.refresh_from_db(fields=["revoked_at", "revoked_by"])
    return revoked == 1


def invitation_by_token(token: str) -> Invitation | None:
    """The invitation a link names, whatever its state (the page says why it no longer works), or None."""
    return Invitation.objects.select_related("supplier").filter(token_hash=hash_token(token)).first()


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> SupplierMembership:
    """Make ``user`` a member in the invited role; the invitation is used up.

    The user must own the invited address. A membership the person already had (deactivated since
    the invitation) is reactivated with the invited role.
    """
    _lock_supplier(invitation.supplier_id)
    invitation = Invitation.objects.select_for_update().select_related("supplier").get(pk=invitation.pk)
    if not invitation.is_pending:
        raise ValidationError(f"This invitation is {invitation.status}: ask {invitation.supplier.name} for a new one.")
    if user.email.lower() != invitation.email.lower():
        raise ValidationError(f"This invitation is for {invitation.email}; you are signed in as {user.email}.")
    if not invitation.supplier_has_access:
        raise ValidationError(f"{invitation.supplier.name} has no access to Supplyline at the moment.")
    membership, created = SupplierMembership.objects.get_or_create(
        user=user, supplier=invitation.supplier, defaults={"role": invitation.role}
    )
    if not created:
        membership.role, membership.is_active = invitation.role, True
        membership.save(update_fields=["role", "is_active"])
    invitation.accepted_at, invitation.accepted_by = timezone.now(), user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


def _other_active_admins(membership: SupplierMembership) -> int:
    return (
        SupplierMembership.objects.filter(supplier_id=membership.supplier_id, role=Role.ADMIN, is_active=True)
        .exclude(pk=membership.pk)
        .count()
    )


def _locked(membership: SupplierMembership) -> SupplierMembership:
    _lock_supplier(membership.supplier_id)
    return SupplierMembership.objects.select_related("user", "supplier").get(pk=membership.pk)


@transaction.atomic
def membership_role_set(*, membership: SupplierMembership, role: str, by: User | None) -> SupplierMembership:
    """Give a member another role; the last active admin cannot be demoted."""
    _validate_role(role)
    membership = _locked(membership)
    demoted = membership.role == Role.ADMIN and role != Role.ADMIN and membership.is_active
    if demoted and not _other_active_admins(membership):
        raise ValidationError(
            {
                "role": f"{membership.user} is {membership.supplier.name}'s last active admin: "
                "make someone else an admin first."
            }
        )
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_deactivate(*, membership: SupplierMembership, by: User | None) -> SupplierMembership:
    """Take a member's access away from their very next request; the last active admin stays."""
    membership = _locked(membership)
    if membership.is_active and membership.role == Role.ADMIN and not _other_active_admins(membership):
        raise ValidationError(
            f"{membership.user} is {membership.supplier.name}'s last active admin: make someone else an admin first."
        )
    membership.is_active = False
    membership.save(update_fields=["is_active"])
    return membership


@transaction.atomic
def membership_reactivate(*, membership: SupplierMembership, by: User | None) -> SupplierMembership:
    membership = _locked(membership)
    membership.is_active = True
    membership.save(update_fields=["is_active"])
    return membership
