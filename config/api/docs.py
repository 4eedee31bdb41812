"""Redoc without the Google Fonts drf-spectacular's template links: the docs load nothing from other hosts."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.template import engines
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView
from rest_framework.request import Request

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <title>{{ title }}</title>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <style>body { margin: 0; padding: 0; }</style>
</head>
<body>
  <redoc spec-url="{{ schema_url }}"></redoc>
  <script src="{{ redoc_standalone }}"></script>
</body>
</html>
"""


class ApiRedocView(SpectacularRedocView):
    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        context = {
            "title": self.title,
            "redoc_standalone": self._redoc_standalone(),  # type: ignore[no-untyped-call]
            "schema_url": self._get_schema_url(request),  # type: ignore[no-untyped-call]
        }
        return HttpResponse(engines["django"].from_string(_PAGE).render(context))
