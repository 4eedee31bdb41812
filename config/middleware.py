"""Middleware of our own."""

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse


def reject_nul_in_path(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """An address with a NUL byte names nothing: answer 404 before any view.

    Any ``<str:...>`` argument of a route (a PO number, a supplier code, a SKU) goes into a query,
    and PostgreSQL refuses a NUL in text, which would be a 500 on every such route. The 404 goes
    through the project's handler, so API paths still get a problem-details body.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            raise Http404("No address holds a NUL byte.")
        return get_response(request)

    return middleware
