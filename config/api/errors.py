"""RFC 9457 problem details for every error of /api/v1/.

Every error body is ``application/problem+json``: ``type``, ``title``, ``status``,
``detail``, and for validation errors ``errors: [{"field": "lines.20.quantity",
"detail": "..."}]``. ``code`` names the error for programs (DRF's error code).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from typing import Any

import orjson
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.views import defaults
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from purchasing.errors import StaleVersion

PROBLEM_CONTENT_TYPE = "application/problem+json"
# Problem types are URNs: stable names a client can switch on, documented in docs/api.md.
VALIDATION = "urn:supplyline:problem:validation"
STALE_VERSION = "urn:supplyline:problem:stale-version"
MISSING_SCOPE = "urn:supplyline:problem:missing-scope"
RATE_LIMITED = "urn:supplyline:problem:rate-limited"
IDEMPOTENCY_MISMATCH = "urn:supplyline:problem:idempotency-key-reused"
IDEMPOTENCY_IN_PROGRESS = "urn:supplyline:problem:idempotency-key-in-progress"
IDEMPOTENCY_UNREADABLE = "urn:supplyline:problem:idempotency-response-unreadable"
ABOUT_BLANK = "about:blank"


def problem_body(
    status: int,
    title: str,
    detail: str | None = None,
    errors: list[dict[str, str | None]] | None = None,
    type_: str = ABOUT_BLANK,
    **extensions: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    body.update(extensions)
    return body


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    errors: list[dict[str, str | None]] | None = None,
    type_: str = ABOUT_BLANK,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A problem-details response for a DRF view (``extensions`` become extra members, e.g. ``code``)."""
    return Response(
        problem_body(status, title, detail, errors, type_, **extensions),
        status=status,
        headers=dict(headers or {}),
        content_type=PROBLEM_CONTENT_TYPE,
    )


def _plain_problem(status: int, detail: str) -> HttpResponse:
    body = problem_body(status, HTTPStatus(status).phrase, detail)
    return HttpResponse(orjson.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)


def field_errors(detail: Any, path: str = "") -> Iterator[dict[str, str | None]]:
    """Flatten DRF's or Django's nested error structure into ``{"field": "a.0.b", "detail": ...}`` items."""
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            name = "" if key in {"non_field_errors", "__all__"} else str(key)
            yield from field_errors(value, f"{path}.{name}" if path and name else path or name)
    elif isinstance(detail, list) and any(isinstance(item, Mapping | list) for item in detail):
        for index, item in enumerate(detail):
            yield from field_errors(item, f"{path}.{index}" if path else str(index))
    elif isinstance(detail, list):
        for message in detail:
            yield {"field": path or None, "detail": str(message)}
    else:
        yield {"field": path or None, "detail": str(detail)}


def _validation_problem(detail: Any) -> Response:
    errors = list(field_errors(detail))
    summary = errors[0]["detail"] if len(errors) == 1 and errors[0]["field"] is None else None
    return problem_response(
        422,
        "Your request has invalid fields.",
        summary or "Correct the fields listed in errors and send the request again.",
        errors=errors,
        type_=VALIDATION,
        code="invalid",
    )


def _api_exception_problem(exc: exceptions.APIException) -> Response:
    headers: dict[str, str] = {}
    if auth_header := getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None)
    type_ = ABOUT_BLANK
    if wait is not None:
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
        type_ = RATE_LIMITED
    extensions: dict[str, Any] = {"code": getattr(exc.detail, "code", None) or exc.default_code}
    if scope := getattr(exc, "scope", None):
        extensions["scope"] = scope
        type_ = MISSING_SCOPE
    return problem_response(
        exc.status_code,
        HTTPStatus(exc.status_code).phrase,
        str(exc.detail),
        type_=type_,
        headers=headers,
        **extensions,
    )


def api_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's exception handler for SupplierApiView: every error becomes a problem; others re-raise (500)."""
    if isinstance(exc, StaleVersion):
        return problem_response(
            412,
            "The resource changed since you read it.",
            exc.messages[0],
            type_=STALE_VERSION,
            code="stale_version",
            current_version=exc.current_version,
        )
    if isinstance(exc, DjangoValidationError):
        return _validation_problem(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, exceptions.ValidationError):
        return _validation_problem(exc.detail)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return problem_response(404, "Not Found", "No such resource, or it belongs to another supplier.")
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        return _api_exception_problem(exc)
    return None


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: a problem for API paths, the portal's page elsewhere."""
    if request.path.startswith("/api/"):
        return _plain_problem(404, "There is no API resource at this address.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a problem for API paths, the portal's page elsewhere."""
    if request.path.startswith("/api/"):
        return _plain_problem(500, "Something went wrong on our side; it was logged. Try again later.")
    return defaults.server_error(request)


class FieldErrorSerializer(serializers.Serializer[dict[str, Any]]):
    field = serializers.CharField(
        allow_null=True,
        help_text="The field's path in the request, e.g. lines.20.quantity; null for the whole request.",
    )
    detail = serializers.CharField()


class ProblemSerializer(serializers.Serializer[dict[str, Any]]):
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text="A URI naming the kind of problem; about:blank when the status says it all.")
    title = serializers.CharField(help_text="A short summary of the kind of problem.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(required=False, help_text="What went wrong this time, for a person.")
    code = serializers.CharField(required=False, help_text="A stable error code for programs, e.g. missing_scope.")
    # DRF's metaclass takes declared fields out of the class, so this does not shadow Serializer.errors.
    errors = FieldErrorSerializer(  # type: ignore[assignment]
        many=True, required=False, help_text="Validation errors, one per field."
    )


def _problem(description: str) -> OpenApiResponse:
    return OpenApiResponse(ProblemSerializer, description=description)


PROBLEM_RESPONSES: dict[int | tuple[int, str], OpenApiResponse] = {
    (400, PROBLEM_CONTENT_TYPE): _problem("Malformed request (e.g. not JSON)."),
    (401, PROBLEM_CONTENT_TYPE): _problem("Missing, unknown, revoked or expired API key."),
    (403, PROBLEM_CONTENT_TYPE): _problem("The API key lacks the scope this operation needs."),
    (404, PROBLEM_CONTENT_TYPE): _problem("No such resource for this supplier."),
    (409, PROBLEM_CONTENT_TYPE): _problem("A request with this Idempotency-Key is still in progress."),
    (412, PROBLEM_CONTENT_TYPE): _problem("If-Match or the expected version is stale: nothing was changed."),
    (413, PROBLEM_CONTENT_TYPE): _problem("The request body or file is over the size limit: nothing was stored."),
    (415, PROBLEM_CONTENT_TYPE): _problem("Unsupported Content-Type."),
    (422, PROBLEM_CONTENT_TYPE): _problem("Validation failed (field errors), or an Idempotency-Key reused."),
    (429, PROBLEM_CONTENT_TYPE): _problem("Rate limit exceeded; see Retry-After."),
}
