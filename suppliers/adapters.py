from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from suppliers import services, team
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
