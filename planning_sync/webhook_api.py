"""Supplier webhooks in the REST API: register endpoints, delete them, read their delivery log (docs/api.md).

Every view acts for the API key's supplier: another supplier's endpoint, or a deleted one, is a 404.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.errors import PROBLEM_RESPONSES
from config.api.idempotency import idempotent
from config.api.views import SupplierApiView, SupplierListApiView
from planning_sync import webhooks
from planning_sync.models import Connector, Delivery

SCOPES: dict[str, str] = {"GET": "webhooks:manage", "POST": "webhooks:manage", "DELETE": "webhooks:manage"}
LAST_ERROR_CHARS = 500


class WebhookCreateInputSerializer(serializers.Serializer[Any]):
    url = serializers.CharField(max_length=500, help_text="Your HTTPS endpoint; it must answer 2xx within 5 s.")
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=100),
        min_length=1,
        max_length=webhooks.MAX_EVENT_TYPES,
        help_text="Event types, exact (supplyline.po.issued.v1) or a prefix ending in .* (supplyline.po.*).",
    )
    description = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class WebhookOutputSerializer(serializers.Serializer[Connector]):
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    description = serializers.CharField()
    event_types = serializers.SerializerMethodField()
    circuit = serializers.ChoiceField(
        choices=Connector.Circuit.choices, help_text="open: paused after repeated failures, probed again soon."
    )
    last_success_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_url(self, connector: Connector) -> str:
        return str(connector.config.get("url", ""))

    def get_event_types(self, connector: Connector) -> list[str]:
        return sorted(s.event_type for s in connector.subscriptions.all() if s.is_active)


class WebhookCreatedOutputSerializer(WebhookOutputSerializer):
    secret = serializers.CharField(
        help_text="The Standard Webhooks signing secret (whsec_...). Shown only in this answer: store it now."
    )


class WebhookDeliveryOutputSerializer(serializers.Serializer[Delivery]):
    id = serializers.IntegerField()
    event_id = serializers.UUIDField(source="event.event_id", help_text="The CloudEvent id and webhook-id header.")
    event_type = serializers.CharField(source="event.type")
    subject = serializers.CharField(source="event.subject")
    status = serializers.ChoiceField(choices=Delivery.Status.choices)
    attempts = serializers.IntegerField()
    last_status_code = serializers.IntegerField(allow_null=True, help_text="Your endpoint's last HTTP status.")
    last_error = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    next_attempt_at = serializers.SerializerMethodField()

    def get_last_error(self, delivery: Delivery) -> str:
        return delivery.last_error[:LAST_ERROR_CHARS]

    def get_next_attempt_at(self, delivery: Delivery) -> str | None:
        """When the next attempt is due; null once delivered or dead."""
        if delivery.status in (Delivery.Status.DELIVERED, Delivery.Status.DEAD):
            return None
        return serializers.DateTimeField().to_representation(delivery.next_attempt_at)


def _webhook(view: SupplierApiView, pk: int) -> Connector:
    try:
        return webhooks.webhook_get(supplier=view.supplier, pk=pk)
    except Connector.DoesNotExist:
        raise Http404("No such webhook endpoint.") from None


class WebhookListCreateApi(SupplierListApiView):
    required_scopes: ClassVar[dict[str, str]] = SCOPES
    serializer_class = WebhookOutputSerializer
    ordering = ("-id",)

    def get_queryset(self) -> QuerySet[Connector]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reads the model without a request
            return Connector.objects.none()
        return webhooks.webhook_list(supplier=self.supplier)

    @extend_schema(
        operation_id="webhooks_list",
        responses={200: WebhookOutputSerializer(many=True), **PROBLEM_RESPONSES},
        tags=["webhooks"],
        summary="Your webhook endpoints",
        description="Newest first, in keyset pages like every list (at most 10 endpoints, so one page).",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="webhooks_create",
        request=WebhookCreateInputSerializer,
        responses={201: WebhookCreatedOutputSerializer, **PROBLEM_RESPONSES},
        tags=["webhooks"],
        summary="Register a webhook endpoint",
        description="Answers with the signing secret, once. At most 10 endpoints per supplier.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = WebhookCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        connector, secret = webhooks.webhook_register(supplier=self.supplier, **serializer.validated_data)
        connector = webhooks.webhook_get(supplier=self.supplier, pk=connector.pk)
        data = WebhookOutputSerializer(connector).data | {"secret": secret}
        return Response(data, status=status.HTTP_201_CREATED)


class WebhookDetailApi(SupplierApiView):
    required_scopes: ClassVar[dict[str, str]] = SCOPES

    @extend_schema(
        operation_id="webhooks_retrieve",
        responses={200: WebhookOutputSerializer, **PROBLEM_RESPONSES},
        tags=["webhooks"],
        summary="One webhook endpoint",
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(WebhookOutputSerializer(_webhook(self, pk)).data)

    @extend_schema(
        operation_id="webhooks_destroy",
        responses={204: None, **PROBLEM_RESPONSES},
        tags=["webhooks"],
        summary="Delete a webhook endpoint",
        description="Stops deliveries at once; deliveries still waiting are given up.",
    )
    def delete(self, request: Request, pk: int) -> Response:
        webhooks.webhook_delete(connector=_webhook(self, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryListApi(SupplierListApiView):
    required_scopes: ClassVar[dict[str, str]] = SCOPES
    serializer_class = WebhookDeliveryOutputSerializer
    ordering = ("-id",)  # newest first; Delivery's primary key, so no extra index

    def get_queryset(self) -> QuerySet[Delivery]:
        if getattr(self, "swagger_fake_view", False):
            return Delivery.objects.none()
        connector = _webhook(self, self.kwargs["pk"])
        return Delivery.objects.filter(connector=connector).select_related("event")

    @extend_schema(
        operation_id="webhooks_deliveries_list",
        responses={200: WebhookDeliveryOutputSerializer(many=True), **PROBLEM_RESPONSES},
        tags=["webhooks"],
        summary="An endpoint's delivery log, newest first",
        description=(
            "One row per event sent (or being sent) to the endpoint, with its latest attempt: "
            "status, attempts, your last HTTP status and the error, in keyset pages (follow `next`)."
        ),
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
