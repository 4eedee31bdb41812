"""Redoc without the Google Fonts drf-spectacular's template links: the docs load nothing from other hosts.

Redoc needs more than the portal's Content-Security-Policy allows: its bundle injects <style>
elements without a nonce and runs its search index in a blob: worker. This page alone gets a
policy with those two additions; scripts stay nonce-only (docs/security.md).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.template import engines
from django.utils.csp import CSP
from django.utils.decorators import method_decorator
from django.views.decorators.csp import csp_override
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView
from rest_framework.request import Request

REDOC_CSP: dict[str, list[str]] = {
    **settings.SECURE_CSP,
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],  # a nonce here would switch 'unsafe-inline' off
    "worker-src": [CSP.SELF, "blob:"],
}

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
  <script src="{{ redoc_standalone }}" nonce="{{ csp_nonce }}"></script>
</body>
</html>
"""


class ApiRedocView(SpectacularRedocView):
    @method_decorator(csp_override(REDOC_CSP))
    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        context = {
            "title": self.title,
            "redoc_standalone": self._redoc_standalone(),  # type: ignore[no-untyped-call]
            "schema_url": self._get_schema_url(request),  # type: ignore[no-untyped-call]
        }
        # Rendered with the request so that the csp context processor supplies the nonce.
        return HttpResponse(engines["django"].from_string(_PAGE).render(context, request._request))
