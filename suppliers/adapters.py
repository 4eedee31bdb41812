import time
from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.core import context
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from suppliers import services, team
from suppliers.mfa import client_bound_key, mfa_required
from suppliers.models import ACTIVE_SUPPLIER_SESSION_KEY, Invitation, User

# The invitation a visitor opened (its id): only it opens allauth's sign-up, and only for its address.
INVITATION_SESSION_KEY = "supplyline_invitation"


def invitation_in_session(request: HttpRequest) -> Invitation | None:
    """The still-pending invitation this session came with, for a person who has no account yet."""
    pk = request.session.get(INVITATION_SESSION_KEY)
    if not isinstance(pk, int):
        return None
    invitation = Invitation.objects.select_related("supplier").filter(pk=pk).first()
    if invitation is None or not invitation.is_pending or User.objects.filter(email__iexact=invitation.email).exists():
        return None
    if not invitation.supplier_has_access:
        return None  # the supplier lost its access since: sign-up is closed, as for any dead link
    return invitation


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]  # allauth ships no type hints
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        """Closed to the public: accounts are created by the distributor's staff, and through a supplier
        admin's invitation, whose link (suppliers.views_team.invitation_accept) opens sign-up for its address."""
        return invitation_in_session(request) is not None

    def save_user(self, request: HttpRequest, user: User, form: Any, commit: bool = True) -> User:
        """The new account and its membership are created together, or neither is."""
        invitation = invitation_in_session(request)
        if invitation is None:
            raise ValidationError("This invitation no longer works.")
        with transaction.atomic():
            saved: User = super().save_user(request, user, form, commit=True) or user
            membership = team.invitation_accept(invitation=invitation, user=saved)
        request.session.pop(INVITATION_SESSION_KEY, None)
        request.session[ACTIVE_SUPPLIER_SESSION_KEY] = membership.supplier_id
        return saved

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """Render allauth's mail here, send it from a Celery worker.

        A slow or failing mail server then never slows down or breaks a login
        page, and the worker retries.
        """
        request = self.request
        # The context allauth's own send_mail gives its templates.
        ctx = {"request": request, "email": email, "current_site": get_current_site(request), **context}
        services.email_enqueue(self.render_mail(template_prefix, email, ctx))

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        """The key of allauth's per-account ``login_failed`` counter, bound to the client's address.

        allauth counts failed passwords per account, so anybody could lock a real user out by
        failing on their address on purpose. With the client in the key, only the failing client is
        locked out (the per-address rate stops one client from trying many accounts). allauth 65
        names this hook with an underscore; tests/suppliers/test_login_limits.py pins the behaviour.
        """
        return client_bound_key(request, super()._get_login_attempts_cache_key(request, **credentials))

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        """A password typed in this session within allauth's reauthentication window counts as confirming it.

        allauth 65 asks for the password again before any MFA change, even right after signing in:
        a buyer sent to enrol on signing in would type it twice in a row. Other apps keep allauth's rule.
        """
        if app != "allauth.mfa":
            return bool(super().is_reauthentication_required(app=app, **kwargs))
        request = context.request
        now = time.time()
        recent = any(
            record.get("method") == "password" and now - record["at"] < account_settings.REAUTHENTICATION_TIMEOUT
            for record in get_authentication_records(request, request.user)
        )
        return not recent and bool(super().is_reauthentication_required(app=app, **kwargs))


class MFAAdapter(DefaultMFAAdapter):  # type: ignore[misc]  # allauth ships no type hints
    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "cannot_delete_authenticator": (
            "Buyers and supplier administrators must keep two-factor authentication: it cannot be turned off."
        ),
    }

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        # Turning the app off would only send a required user straight back to enrolment.
        if authenticator.type != Authenticator.Type.TOTP or not settings.SUPPLYLINE_MFA_REQUIRED:
            return True
        return not mfa_required(authenticator.user)
