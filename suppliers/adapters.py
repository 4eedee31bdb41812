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
from django.http import HttpRequest

from suppliers import services
from suppliers.mfa import client_bound_key, mfa_required


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]  # allauth ships no type hints
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts are created by the distributor's staff and supplier admins.
        return False

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
        a buyer sent to enrol on signing in would type it twice in a row.
        """
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
