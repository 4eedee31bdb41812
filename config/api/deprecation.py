"""Marking an API operation deprecated: ``Deprecation`` (RFC 9745), ``Sunset`` (RFC 8594) and a ``Link``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any

from drf_spectacular.utils import extend_schema

type Handler = Callable[..., Any]


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def deprecated(sunset: date, link: str, *, since: date | None = None) -> Callable[[Handler], Handler]:
    """Decorate a view's method (``get``, ``post``...): its responses announce the sunset, and the
    OpenAPI operation is marked ``deprecated``. ``since`` is when it was deprecated (RFC 9745 wants a
    date; without one the header says only ``?1``, "deprecated")."""

    def decorator(method: Handler) -> Handler:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            response = method(*args, **kwargs)
            response["Deprecation"] = f"@{int(_at(since).timestamp())}" if since else "?1"
            response["Sunset"] = format_datetime(_at(sunset), usegmt=True)
            response["Link"] = f'<{link}>; rel="deprecation"; type="text/html"'
            return response

        return extend_schema(deprecated=True)(wrapper)

    return decorator
