"""Opens the audit context of each request (audit.context), after authentication has run."""

from collections.abc import Callable
from typing import Any

from allauth.account.adapter import get_adapter
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse

from config.audit import context
from config.middleware import request_id_of

# URL namespaces whose changes are recorded under their own channel rather than "web".
_CHANNEL_OF_NAMESPACE = {"admin": context.Channel.ADMIN, "api": context.Channel.API}
# How much of a request's path the trail keeps.
PATH_LIMIT = 200


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as allauth's login rate limits see it (``ALLAUTH_TRUSTED_PROXY_COUNT`` or
    ``ALLAUTH_TRUSTED_CLIENT_IP_HEADER`` behind a proxy), so the trail and the lockouts agree."""
    try:
        return str(get_adapter(request).get_client_ip(request))
    except (PermissionDenied, ImproperlyConfigured):
        # No usable address, or fewer X-Forwarded-For hops than the proxies we trust: record none.
        return None


def request_metadata(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    signed_in = user.is_authenticated
    return {
        "channel": context.Channel.WEB,
        "user": user.pk if signed_in else None,
        "email": getattr(user, "email", None) if signed_in else None,
        "ip": client_ip(request),
        "request_id": request_id_of(request),
        "path": request.path[:PATH_LIMIT],
    }


class AuditContextMiddleware:
    """Every change a request makes carries its user, channel, client IP and request id.

    The user is read here, after Django's authentication middleware: a signed-in page needs it anyway,
    and a request without a session cookie (the API, the feeds) costs no query for it. DRF
    authenticates API keys inside the view, so ``ApiKeyAuthentication`` adds the key itself.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not context.is_recorded():
            return self.get_response(request)
        with context.opened(**request_metadata(request)):
            return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any) -> None:
        match = request.resolver_match
        channel = _CHANNEL_OF_NAMESPACE.get(match.namespaces[0]) if match and match.namespaces else None
        if channel is not None:
            context.note(channel=channel)
