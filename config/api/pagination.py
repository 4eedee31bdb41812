"""Keyset pagination for API lists, over config.keyset (the HTML lists' own).

A list view declares ``ordering = ("-updated_at", "-id")``: columns that are not
nullable, ending on a unique one, with an index on the same columns. Clients follow
``next``/``previous`` links (``after``/``before`` cursors); ``limit`` is 1 to 200.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from config.keyset import InvalidCursor, KeysetPage, paginate

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
DEFAULT_ORDERING = ("-id",)


class KeysetCursorPagination(BasePagination):
    def paginate_queryset(self, queryset: Any, request: Request, view: APIView | None = None) -> list[Any]:
        self.request = request
        ordering: tuple[str, ...] = tuple(getattr(view, "ordering", None) or DEFAULT_ORDERING)
        after, before = request.query_params.get("after"), request.query_params.get("before")
        try:
            self.page: KeysetPage[Model] = paginate(
                queryset, ordering=ordering, page_size=self._limit(request), after=after, before=before
            )
        except InvalidCursor as error:
            raise ValidationError({"before" if before else "after": [str(error)]}) from None
        return self.page.items

    @staticmethod
    def _limit(request: Request) -> int:
        raw = request.query_params.get("limit")
        if raw is None:
            return DEFAULT_LIMIT
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            raise ValidationError({"limit": [f"Give a whole number from 1 to {MAX_LIMIT}."]})
        return int(raw)

    def _link(self, param: str, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        other = "before" if param == "after" else "after"
        url = remove_query_param(self.request.build_absolute_uri(), other)
        return replace_query_param(url, param, cursor)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "results": data,
                "next": self._link("after", self.page.next_cursor),
                "previous": self._link("before", self.page.previous_cursor),
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["results", "next", "previous"],
            "properties": {
                "results": schema,
                "next": {**link, "description": "The next page, or null on the last."},
                "previous": {**link, "description": "The previous page, or null on the first."},
            },
        }

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        def parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
            return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}

        return [
            parameter("after", "The cursor of the page's `next` link.", {"type": "string"}),
            parameter("before", "The cursor of the page's `previous` link.", {"type": "string"}),
            parameter(
                "limit",
                f"Items per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            ),
        ]
