"""``GET /api/v1/whoami/``: which supplier and key a request acts as (any valid key, no scope)."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.views import SupplierApiView
from suppliers.models import ApiKey


class HasApiKey(BasePermission):
    """Any valid API key, whatever its scopes; without one DRF answers 401."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, ApiKey)


class WhoAmIKeyOutput(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(help_text="The key's name, e.g. “ERP connector”.")
    prefix = serializers.CharField(help_text="The key's first 16 characters, by which the portal names it.")
    scopes = serializers.ListField(child=serializers.CharField(), help_text="What the key may do.")
    expires_at = serializers.DateTimeField(allow_null=True, help_text="When the key stops working; null: never.")


class WhoAmIOutput(serializers.Serializer[dict[str, Any]]):
    supplier = serializers.CharField(help_text="The code of the supplier the key acts for.")
    key = WhoAmIKeyOutput()


class WhoAmIApi(SupplierApiView):
    """No scope: every key may ask who it is (``HasScope`` would refuse a method it does not map)."""

    def get_permissions(self) -> list[BasePermission]:
        return [HasApiKey()]

    @extend_schema(
        operation_id="whoami_retrieve",
        summary="Check your API key",
        description="The supplier your key acts for and the key's name, prefix, scopes and expiry. Needs no scope: "
        "any valid key may call it, so a client can check its key before it does anything else.",
        responses={200: WhoAmIOutput},
        tags=["api keys"],
    )
    def get(self, request: Request) -> Response:
        api_key = cast(ApiKey, request.auth)
        body = {
            "supplier": self.supplier.code,
            "key": {
                "name": api_key.name,
                "prefix": api_key.prefix,
                "scopes": list(api_key.scopes),
                "expires_at": api_key.expires_at,
            },
        }
        return Response(WhoAmIOutput(body).data)
