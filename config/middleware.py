"""Middleware of our own."""

import re
import uuid
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


REQUEST_ID_HEADER = "X-Request-ID"
# Where the request's id is kept (a WSGI environ key, so anything holding the request can read it).
REQUEST_ID_META = "supplyline.request_id"
# A caller's id is kept only when it could not smuggle anything into a log line, a header or the audit
# trail: 1 to 128 letters, digits and . _ : - (a UUID, a ULID, most proxies' and gateways' ids).
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def request_id_of(request: HttpRequest) -> str:
    return str(request.META.get(REQUEST_ID_META, ""))


def request_id(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """Give every request an id and answer it in ``X-Request-ID``.

    A caller (a supplier's system, our proxy) may send its own ``X-Request-ID`` to follow a call
    across systems; one that is not sane is replaced by a new id rather than refused. The audit
    trail records the id with every change the request made.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request.META[REQUEST_ID_META] = offered if _SANE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        response = get_response(request)
        response[REQUEST_ID_HEADER] = request.META[REQUEST_ID_META]
        return response

    return middleware
