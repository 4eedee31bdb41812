"""Middleware of our own."""

import re
import uuid
from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from rest_framework.views import APIView

from config import log_context
from config.tenancy import OUTSIDE_SCOPE_ATTRIBUTE, enter_supplier_scope, leave_supplier_scope, supplier_scope
from suppliers.models import SupplierMembership


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
    trail records the id with every change the request made, and every log line written while the
    request is served carries it (``config.log_context``).
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request.META[REQUEST_ID_META] = offered if _SANE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        log_context.serving(request.META[REQUEST_ID_META])
        response = get_response(request)
        response[REQUEST_ID_HEADER] = request.META[REQUEST_ID_META]
        return response

    return middleware


class SupplierScopeMiddleware:
    """Runs a supplier user's request under row-level security (config/tenancy.py, docs/security.md).

    The scope is entered just before the view, once the user and the view are known, and left when the
    response is done: at once, or for a streaming response when the server closes it, since its body
    is read (and queried) after this returns. Views of the API authenticate themselves and enter the
    scope of their key (``SupplierApiView``); anonymous requests, buyers and staff keep the connecting role.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        leave_supplier_scope()  # a streaming response nobody closed must not lend its scope to this request
        try:
            response = self.get_response(request)
        except BaseException:
            leave_supplier_scope()
            raise
        if response.streaming and supplier_scope() is not None:
            # Closers run on response.close(), which every WSGI server calls (PEP 3333), even when the
            # client went away; Django's FileResponse closes its file the same way.
            response._resource_closers.append(leave_supplier_scope)  # type: ignore[attr-defined]
        else:
            leave_supplier_scope()
        return response

    def process_view(self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any) -> None:
        # DRF views authenticate by themselves: the supplier API by key (it enters the key's scope), the
        # inbound feeds by a connector's token; a session cookie the browser also sent must not decide.
        if isinstance(getattr(view, "cls", None), type) and issubclass(view.cls, APIView):  # type: ignore[attr-defined]
            return
        # A link whose token is its credential (an invitation) reads the one row its token names, for a
        # person who is not yet a member: the view checks the token and the signed-in address itself.
        if getattr(view, OUTSIDE_SCOPE_ATTRIBUTE, False):
            return
        user = request.user
        if not user.is_authenticated or user.is_staff or user.is_superuser:
            return
        # The tenant boundary is every supplier the user belongs to; the active one narrows the pages
        # (visible_to), and a link to another of the user's suppliers can still offer the switch.
        ids = SupplierMembership.objects.tenant_ids_of(user) if user.is_active else []
        enter_supplier_scope(supplier_ids=ids, user_id=user.pk)
