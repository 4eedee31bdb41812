from typing import TYPE_CHECKING

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

if TYPE_CHECKING:
    from suppliers.models import User


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware (every request does)."""

    htmx: HtmxDetails


class AuthedRequest(HtmxHttpRequest):
    """A request to a @login_required view: the user is signed in."""

    user: "User"
