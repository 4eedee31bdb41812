"""Multi-factor authentication: who must use it, the enrolment gate, and code attempts bound to the client.

allauth.mfa does the work (TOTP, recovery codes, the code step at sign-in); this module adds the
portal's rules on top. docs/security.md describes them.
"""

from collections.abc import Callable
from typing import Any

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.core import context
from allauth.core.internal import ratelimit
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.base.forms import AuthenticateForm as AllauthAuthenticateForm
from allauth.mfa.base.forms import ReauthenticateForm as AllauthReauthenticateForm
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from suppliers.models import SupplierMembership, User, is_buyer

# What a user who must enrol may still reach: signing out, and the pages that set MFA up (activation
# may first ask for the password again, when the sign-in is older than allauth's reauthentication window).
ENROLMENT_ROUTES = frozenset(
    {
        "account_logout",
        "account_reauthenticate",
        "mfa_reauthenticate",
        "mfa_index",
        "mfa_activate_totp",
        "mfa_view_recovery_codes",
        "mfa_download_recovery_codes",
        "mfa_generate_recovery_codes",
    }
)


def mfa_required(user: User) -> bool:
    """Buyers and supplier admins must sign in with a second factor; everybody else may."""
    return is_buyer(user) or (
        SupplierMembership.objects.active().filter(user=user, role=SupplierMembership.Role.ADMIN).exists()
    )


def mfa_enrolment_due(user: User | AnonymousUser) -> bool:
    """True for a signed-in user who must use MFA (while SUPPLYLINE_MFA_REQUIRED is on) and has no authenticator app."""
    if not settings.SUPPLYLINE_MFA_REQUIRED or not user.is_authenticated:
        return False
    # The authenticator first: an enrolled user (the usual case) costs one query.
    return not is_mfa_enabled(user, [Authenticator.Type.TOTP]) and mfa_required(user)


class MfaEnrolmentMiddleware:
    """Sends a user who must enrol to the authenticator app's activation page, from anywhere else.

    A view-level hook, so the route's name decides; unknown addresses still get their 404.
    ``request.mfa_enrolment_due`` tells the templates (through the portal context processor).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        due = mfa_enrolment_due(request.user)
        request.mfa_enrolment_due = due  # type: ignore[attr-defined]
        match = request.resolver_match
        if not due or (match is not None and match.view_name in ENROLMENT_ROUTES):
            return None
        target = reverse("mfa_activate_totp")
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(target)
        return redirect(target)


def client_bound_key(request: HttpRequest, account: str) -> str:
    """A rate-limit key for one account seen from one client address.

    allauth keys its per-account counters on the account alone, so anybody could lock an account
    by failing on purpose; bound to the address, the lock holds only the client that failed.
    """
    return f"{ratelimit.get_ip(request)}|{account}"


class _ClientBoundCodeCheck:
    """allauth's code check, with the attempt counter keyed on the client and the user.

    allauth counts wrong codes per user only (``mfa-auth-user-<pk>``), so whoever holds the password
    could keep the owner out of the code step. Here the failures count per address and user, and per
    address (the same ``login_failed`` rates as passwords). A right code takes back its own attempt
    instead of clearing the counters, as allauth's password sign-in does, so a client cannot reset
    its address's counter with one good code.
    """

    user: User
    cleaned_data: dict[str, Any]
    authenticator: Authenticator
    _emit_authentication_failed: Callable[[Authenticator], None]  # allauth's, per form

    def clean_code(self) -> str:
        request = context.request
        usage = ratelimit.consume(
            request, app="allauth.account", action="login_failed", key=client_bound_key(request, f"mfa:{self.user.pk}")
        )
        if usage is None:
            raise get_account_adapter().validation_error("too_many_login_attempts")
        # And per user, from anywhere: many addresses (an IPv6 block) must not add up to enough guesses to
        # find a six-digit code. Only someone who already has the password gets here, so this cap cannot be
        # used to keep the owner out without it (docs/security.md#login-rate-limits-and-lockout).
        per_user = ratelimit.consume(
            request,
            app="allauth.account",
            action="mfa_code_user",
            config={"mfa_code_user": settings.SUPPLYLINE_MFA_USER_RATE},
            key=f"mfa-user:{self.user.pk}",
        )
        if per_user is None:
            usage.rollback()
            raise get_account_adapter().validation_error("too_many_login_attempts")
        code: str = self.cleaned_data["code"]
        main: Authenticator | None = None
        for authenticator in Authenticator.objects.filter(user=self.user).exclude(type=Authenticator.Type.WEBAUTHN):
            if main is None or authenticator.type == Authenticator.Type.TOTP:
                main = authenticator
            if authenticator.wrap().validate_code(code):
                authenticator.user = self.user
                self.authenticator = authenticator
                usage.rollback()
                per_user.rollback()
                return code
        if main is not None:
            self._emit_authentication_failed(main)
        raise get_mfa_adapter().validation_error("incorrect_code")


class AuthenticateForm(_ClientBoundCodeCheck, AllauthAuthenticateForm):  # type: ignore[misc]
    """The code step of signing in."""


class ReauthenticateForm(_ClientBoundCodeCheck, AllauthReauthenticateForm):  # type: ignore[misc]
    """Confirming a sensitive change with a code."""
