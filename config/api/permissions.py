"""Scopes: each API view maps its HTTP methods to the scope a key needs."""

from __future__ import annotations

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from suppliers.models import ApiKey


class MissingScope(PermissionDenied):
    default_code = "missing_scope"

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__(f"This API key lacks the scope {scope}, which this operation needs.")


class HasScope(BasePermission):
    """The view's ``required_scopes = {"GET": "orders:read", "POST": "orders:acknowledge"}``.

    HEAD needs GET's scope. A method the view implements but does not map is refused
    (fail closed); a method it does not implement passes on to the 405.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return False
        scopes: dict[str, str] = getattr(view, "required_scopes", {})
        method = request.method or ""
        scope = scopes.get(method) or (scopes.get("GET") if method == "HEAD" else None)
        if scope is None:
            if method == "OPTIONS" or not hasattr(view, method.lower()):
                return True
            raise PermissionDenied(f"{method} on this resource declares no scope, so no key may use it.")
        if not api_key.has_scope(scope):
            raise MissingScope(scope)
        return True
