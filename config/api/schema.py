"""The API's AutoSchema: problem responses, rate-limit headers and Idempotency-Key on every operation."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

from config.api.errors import PROBLEM_CONTENT_TYPE, PROBLEM_RESPONSES
from config.api.idempotency import IDEMPOTENCY_PARAMETER

_ALWAYS = (401, 403, 429)
_WITH_PATH_PARAMETERS = (404,)
_WITH_BODY = (409, 413, 415, 422)

_RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": "Requests allowed in a burst for this API key.",
    "RateLimit-Remaining": "Requests left in the current burst.",
    "RateLimit-Reset": "Seconds until the burst is fully available again.",
}


class ApiAutoSchema(AutoSchema):
    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        handler = getattr(self.view, self.method.lower(), None)
        if self.method == "POST" and getattr(handler, "idempotent", False):
            parameters.append(IDEMPOTENCY_PARAMETER)
        return parameters

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        codes = list(_ALWAYS)
        if "{" in self.path:
            codes.extend(_WITH_PATH_PARAMETERS)
        if self.method in {"POST", "PUT", "PATCH"}:
            codes.extend(_WITH_BODY)
        for code in sorted(codes):
            if str(code) not in responses:
                problem = PROBLEM_RESPONSES[(code, PROBLEM_CONTENT_TYPE)]
                responses[str(code)] = self._get_response_for_code(  # type: ignore[no-untyped-call]
                    problem, str(code), (PROBLEM_CONTENT_TYPE,), direction
                )
        return responses

    def _get_response_headers_for_code(self, status_code: str, direction: Any = "response") -> dict[str, Any]:
        headers: dict[str, Any] = super()._get_response_headers_for_code(status_code, direction)
        for name, description in _RATE_LIMIT_HEADERS.items():
            headers.setdefault(name, {"schema": {"type": "integer"}, "description": description})
        if status_code == "429":
            headers.setdefault("Retry-After", {"schema": {"type": "integer"}, "description": "Seconds to wait."})
        return headers


__all__ = ["ApiAutoSchema", "OpenApiParameter"]
