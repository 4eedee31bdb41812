"""``Authorization: Bearer <API key>``: the key acts for its supplier only."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from config.audit import context as audit_context
from suppliers.models import ApiKey, Supplier

# last_used_at is for people ("is this key still in use?"), so a minute's precision is
# plenty and saves a write on nearly every request.
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiClient:
    """``request.user`` of an API request: the supplier's system, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.supplier: Supplier = api_key.supplier

    def __str__(self) -> str:
        return f"API key {self.api_key.prefix} of {self.supplier.code}"


def _touch(api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_PRECISION:
        return
    # Conditional, so concurrent requests of one key write the row once.
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_PRECISION)
    ApiKey.objects.filter(stale, pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now


class ApiKeyAuthentication(BaseAuthentication):
    """``request.user`` is an ``ApiClient``, ``request.auth`` the ``ApiKey``."""

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiKey] | None:
        header = get_authorization_header(request)
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != b"bearer":
            raise AuthenticationFailed("Send the API key as: Authorization: Bearer <key>.")
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("This API key is not valid.") from None
        api_key = ApiKey.objects.select_related("supplier").filter(secret_hash=hash_key(key)).first()
        if api_key is None:
            raise AuthenticationFailed("This API key is not valid.")
        if api_key.revoked_at is not None:
            raise AuthenticationFailed("This API key was revoked.")
        if api_key.is_expired:
            raise AuthenticationFailed("This API key has expired.")
        if api_key.supplier.status not in Supplier.ACCESS_STATUSES:
            raise AuthenticationFailed("This supplier's access is closed.")
        # DRF authenticates inside the view, after the middleware opened the request's audit context.
        audit_context.api_key_authenticated(api_key)
        _touch(api_key)
        return ApiClient(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) to a request without a key.
        return 'Bearer realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key a supplier admin created in the portal (API keys page): sl_live_…",
        }
