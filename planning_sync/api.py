"""Push endpoints of the inbound feeds: the ERP and the planning system POST batches of documents here.

Each request authenticates as a connector with ``Authorization: Bearer <token>``
(planning_sync.inbound.issue_inbound_token); sessions do not count here. Each
document applies on its own and a bad one is quarantined, so the answer is a
summary with the quarantined documents' errors, not an all-or-nothing status.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import APIException, AuthenticationFailed, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.uploads import SizeLimitedJSONParser
from planning_sync.inbound import BatchResult, Feed, Quarantined, apply_batch, connector_for_token
from planning_sync.models import Connector
from purchasing.inbound import document_schema

MAX_DOCUMENTS = 5000


class InboundTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <token>`` of an enabled connector; ``request.auth`` is the connector."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, Connector] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Send the token as: Authorization: Bearer <token>.")
        connector = connector_for_token(parts[1].decode("latin-1"))
        if connector is None:
            raise AuthenticationFailed("This token is unknown, was replaced, or belongs to a disabled connector.")
        return AnonymousUser(), connector

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) to a request without a token.
        return 'Bearer realm="integration"'


class InboundTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = InboundTokenAuthentication
    name = "inboundToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A connector's inbound token."}


class IsConnector(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, Connector)


class TooManyDocuments(APIException):
    status_code = 413
    default_detail = f"Send at most {MAX_DOCUMENTS} documents per request."
    default_code = "too_many_documents"


# Output serializers shared by the five push endpoints.
class QuarantinedOutputSerializer(serializers.Serializer[Quarantined]):
    index = serializers.IntegerField(help_text="The document's position in the request, from 0.")
    external_id = serializers.CharField(help_text="The document's own key, e.g. the PO's erp_id.")
    error = serializers.CharField(help_text="Each failing field and its problem.")


class BatchResultOutputSerializer(serializers.Serializer[BatchResult]):
    applied = serializers.IntegerField(help_text="Documents that changed something.")
    unchanged = serializers.IntegerField(help_text="Documents already applied: a replay changes nothing.")
    outcomes = serializers.DictField(
        child=serializers.IntegerField(), help_text="Documents per outcome: created, revised, updated, ..."
    )
    quarantined = QuarantinedOutputSerializer(many=True, help_text="The documents not applied, with their errors.")


class InboundFeedApi(APIView):
    """POST a batch of one feed's documents: a JSON list, or ``{"documents": [...]}``."""

    authentication_classes = [InboundTokenAuthentication]
    permission_classes = [IsConnector]
    parser_classes = [SizeLimitedJSONParser]
    feed: str = ""

    def upload_limit(self) -> int:
        """Bodies past this get 413 before they are read whole (SizeLimitedJSONParser)."""
        return int(settings.PLANNING_SYNC_MAX_BODY_BYTES)

    def post(self, request: Request) -> Response:
        documents = _documents(request.data)
        connector = cast(Connector, request.auth)  # IsConnector let only a connector in
        result = apply_batch(self.feed, documents, connector=connector)
        return Response(BatchResultOutputSerializer(result).data)


def _documents(data: Any) -> list[Any]:
    documents = data.get("documents") if isinstance(data, dict) else data
    if not isinstance(documents, list):
        raise ValidationError(
            {"detail": f'The body must be a JSON list of documents, or {{"documents": [...]}}; got {_kind(data)}.'}
        )
    if len(documents) > MAX_DOCUMENTS:
        raise TooManyDocuments(f"{len(documents)} documents: send at most {MAX_DOCUMENTS} per request.")
    return documents


def _kind(data: Any) -> str:
    if isinstance(data, dict):
        return "an object without a documents list"
    kinds = {str: "a string", bool: "true or false", int: "a number", float: "a number", type(None): "null"}
    return kinds.get(type(data), "something else")


def _push_schema(feed: str, system: str) -> Any:
    item = {key: value for key, value in document_schema(feed).items() if not key.startswith("$")}
    batch = {"type": "array", "maxItems": MAX_DOCUMENTS, "items": item}
    return extend_schema(
        operation_id=f"integration_{feed}_push",
        summary=f"Push {item['title']} documents",
        description=(
            f"For the {system}. Each document applies on its own, all or nothing; one that fails is "
            "quarantined with its error and the others still apply. Replaying documents changes nothing."
        ),
        tags=["integration"],
        request={
            "application/json": {
                "oneOf": [batch, {"type": "object", "required": ["documents"], "properties": {"documents": batch}}]
            }
        },
        responses={
            200: BatchResultOutputSerializer,
            400: OpenApiResponse(description="The body is not a list of documents."),
            401: OpenApiResponse(description="No token, or not an enabled connector's token."),
            413: OpenApiResponse(
                description=f"More than {MAX_DOCUMENTS} documents, or a body over PLANNING_SYNC_MAX_BODY_BYTES."
            ),
        },
    )


@extend_schema_view(post=_push_schema(Feed.PURCHASE_ORDERS, "ERP"))
class PurchaseOrderFeedApi(InboundFeedApi):
    feed = Feed.PURCHASE_ORDERS


@extend_schema_view(post=_push_schema(Feed.RECEIPTS, "ERP"))
class ReceiptFeedApi(InboundFeedApi):
    feed = Feed.RECEIPTS


@extend_schema_view(post=_push_schema(Feed.INVENTORY, "ERP"))
class InventoryFeedApi(InboundFeedApi):
    feed = Feed.INVENTORY


@extend_schema_view(post=_push_schema(Feed.DEMAND, "planning system"))
class DemandFeedApi(InboundFeedApi):
    feed = Feed.DEMAND


@extend_schema_view(post=_push_schema(Feed.SAFETY_STOCK, "planning system"))
class SafetyStockFeedApi(InboundFeedApi):
    feed = Feed.SAFETY_STOCK
