"""Base classes of every /api/v1/ view (docs/api.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, cast

from django.conf import settings
from drf_orjson_renderer.renderers import ORJSONRenderer  # type: ignore[import-untyped]
from rest_framework import generics
from rest_framework.exceptions import APIException
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.authentication import ApiClient, ApiKeyAuthentication
from config.api.errors import api_exception_handler
from config.api.pagination import KeysetCursorPagination
from config.api.permissions import HasScope
from config.api.schema import ApiAutoSchema
from config.api.throttling import STATE_ATTRIBUTE, ApiKeyThrottle, RateLimitState
from config.api.uploads import SizeLimitedMultiPartParser, SizeLimitedORJSONParser
from config.tenancy import enter_supplier_scope
from suppliers.models import ApiKey, Supplier


class SupplierApiView(APIView):
    """A supplier system's view: ``Authorization: Bearer <API key>``, scopes, rate limits, problem details.

    Declare ``required_scopes = {"GET": "orders:read", ...}``; scope querysets to ``self.supplier``.
    """

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasScope]
    throttle_classes = [ApiKeyThrottle]
    renderer_classes: list[type[BaseRenderer]] = [ORJSONRenderer]
    parser_classes: list[type[BaseParser]] = [SizeLimitedORJSONParser]
    # No OPTIONS metadata: the OpenAPI document describes every operation.
    metadata_class = None
    schema = ApiAutoSchema()
    required_scopes: ClassVar[dict[str, str]] = {}
    # "documents" selects the lower upload limit (SUPPLYLINE_API_UPLOAD_RATE/BURST).
    throttle_scope: ClassVar[str | None] = None

    def upload_limit(self) -> int:
        """The largest request body, in bytes: a larger one is answered 413 before it is read whole."""
        return int(settings.SUPPLYLINE_API_MAX_BODY_BYTES)

    @property
    def supplier(self) -> Supplier:
        """The supplier the API key acts for: the tenant boundary of every query."""
        client = cast(ApiClient, self.request.user)
        return client.supplier

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        return api_exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """DRF's order, but throttled before permissions, and a request with a bad key still
        takes a token (from its address's bucket), so every response carries the rate-limit headers."""
        self.format_kwarg = self.get_format_suffix(**kwargs)
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(request)
        request.version, request.versioning_scheme = self.determine_version(request, *args, **kwargs)
        try:
            self.perform_authentication(request)
        except APIException:
            self.check_throttles(request)
            raise
        # Every query from here on runs under row-level security, limited to the key's supplier; the
        # middleware (SupplierScopeMiddleware) leaves the scope when the response is done.
        if isinstance(request.auth, ApiKey):
            enter_supplier_scope(supplier_ids=[request.auth.supplier_id], user_id=None)
        self.check_throttles(request)
        self.check_permissions(request)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        state: RateLimitState | None = getattr(request, STATE_ATTRIBUTE, None)
        if state is not None:
            for name, value in state.headers().items():
                response[name] = value
        return response


class SupplierUploadApiView(SupplierApiView):
    """A view that takes a file (multipart/form-data) under the lower upload rate limit; a file over
    ``upload_limit()`` bytes is answered 413 before it is kept (config/api/uploads.py)."""

    parser_classes: list[type[BaseParser]] = [SizeLimitedMultiPartParser]
    throttle_scope: ClassVar[str | None] = "documents"

    def upload_limit(self) -> int:
        return int(settings.SUPPLYLINE_DOCUMENT_MAX_BYTES)


class SupplierListApiView(SupplierApiView, generics.ListAPIView):  # type: ignore[type-arg]
    """A GET list with keyset pagination: set ``serializer_class``, ``get_queryset()`` (scoped to
    ``self.supplier``), ``ordering`` (non-null columns ending on a unique one, indexed) and
    optionally ``filterset_class``."""

    pagination_class = KeysetCursorPagination
    ordering: ClassVar[tuple[str, ...]] = ("-id",)
