"""Which supplier a request acts for."""

from collections.abc import Callable

from django.contrib.auth.middleware import get_user
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from suppliers.models import ACTIVE_SUPPLIER_ATTRIBUTE, ACTIVE_SUPPLIER_SESSION_KEY, User


def active_supplier(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """Put the session's choice of supplier on ``request.user``, where ``supplier_ids_of`` reads it.

    Still lazy, as AuthenticationMiddleware left it: a request that never looks at its user (``/healthz``,
    the API's key-authenticated views) reads neither the session nor the user. The choice is only a
    preference: ``SupplierMembership.objects.acting`` honours it while the membership is active, on every
    query, so a deactivated membership stops working on the user's very next request.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        request.user = SimpleLazyObject(lambda: _with_choice(request))  # type: ignore[assignment]
        return get_response(request)

    return middleware


def _with_choice(request: HttpRequest) -> User | AnonymousUser:
    user: User | AnonymousUser = get_user(request)
    if user.is_authenticated:
        chosen = request.session.get(ACTIVE_SUPPLIER_SESSION_KEY)
        setattr(user, ACTIVE_SUPPLIER_ATTRIBUTE, chosen if isinstance(chosen, int) else None)
    return user
