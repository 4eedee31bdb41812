"""What the purchasing API views share: the key's supplier, input validation keyed like the services' errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.request import Request
from rest_framework.serializers import Serializer

from config.api.errors import PROBLEM_CONTENT_TYPE, PROBLEM_RESPONSES
from suppliers.models import ApiKey, Supplier

ETAG_HEADER = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    description='The purchase order\'s entity tag, e.g. "po-PO-480012-v3"; it changes with every write of the order.',
    response=True,
)


def problems(*codes: int) -> dict[int | tuple[int, str], OpenApiResponse]:
    """The problem responses an operation has beyond those ApiAutoSchema adds to all (401, 403, 429; 404 with
    a path parameter; 409, 415, 422 on POST)."""
    return {(code, PROBLEM_CONTENT_TYPE): PROBLEM_RESPONSES[(code, PROBLEM_CONTENT_TYPE)] for code in codes}


def key_supplier(request: Request) -> Supplier:
    """The supplier of the request's API key: every read and write of the API is scoped to it."""
    api_key = request.auth
    if not isinstance(api_key, ApiKey):
        raise TypeError("The purchasing API needs ApiKeyAuthentication.")
    return api_key.supplier


def _flatten(detail: Any, path: str, position: Callable[[str, int], str], out: dict[str, list[str]]) -> None:
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            if isinstance(key, int):  # a list's items, by index (DRF's ListSerializer errors)
                _flatten(value, position(path, key), position, out)
                continue
            name = "" if key in ("non_field_errors", "__all__") else str(key)
            _flatten(value, f"{path}.{name}" if path and name else path or name, position, out)
    elif isinstance(detail, list) and any(isinstance(item, Mapping | list) for item in detail):
        for index, item in enumerate(detail):
            _flatten(item, position(path, index), position, out)
    else:
        messages = detail if isinstance(detail, list) else [detail]
        out.setdefault(path or "__all__", []).extend(str(m) for m in messages)


def _counted_from_one(path: str, index: int) -> str:
    return f"{path}.{index + 1}" if path else str(index + 1)


def validated(serializer: Serializer[Any], position: Callable[[str, int], str] = _counted_from_one) -> dict[str, Any]:
    """The serializer's valid data, or a ValidationError keyed the way the services key theirs
    (``lines.2.quantity``: list items counted from 1), so a client sees one convention for both."""
    if serializer.is_valid():
        data: dict[str, Any] = serializer.validated_data
        return data
    errors: dict[str, list[str]] = {}
    _flatten(serializer.errors, "", position, errors)
    raise ValidationError(errors)
