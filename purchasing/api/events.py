"""The supplier's events feed: its own slice of the outbox, as CloudEvents, in order."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from config.api.views import SupplierApiView
from planning_sync.envelope import cloudevent
from purchasing import selectors
from purchasing.api.common import key_supplier, problems, validated

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


class CloudEventOutput(serializers.Serializer[dict[str, Any]]):
    specversion = serializers.CharField(read_only=True)
    id = serializers.UUIDField(read_only=True, help_text="The event's id: pass the last one you handled as `after`.")
    source = serializers.CharField(read_only=True)  # type: ignore[assignment]  # a field, not Field.source
    type = serializers.ChoiceField(choices=selectors.STORED_SUPPLIER_EVENT_TYPES, read_only=True)
    subject = serializers.CharField(read_only=True, help_text="The PO number or the ASN's id.")
    time = serializers.DateTimeField(read_only=True)
    datacontenttype = serializers.CharField(read_only=True)
    supplylinechannel = serializers.CharField(read_only=True, help_text="Where the change came from: web, api, edi…")
    data = serializers.DictField(read_only=True, help_text="The event's payload (docs/events.md).")  # type: ignore[assignment]


class EventPageOutput(serializers.Serializer[dict[str, Any]]):
    results = CloudEventOutput(many=True, read_only=True)
    has_more = serializers.BooleanField(read_only=True, help_text="More events wait: fetch `next` at once.")
    next = serializers.URLField(
        read_only=True, help_text="Where to ask next: after the last event of this page (or the same place)."
    )


class EventQuery(serializers.Serializer[dict[str, Any]]):
    after = serializers.CharField(required=False, default="", allow_blank=True, max_length=64)
    limit = serializers.IntegerField(required=False, default=DEFAULT_LIMIT, min_value=1, max_value=MAX_LIMIT)


_EVENT_EXAMPLE = {
    "results": [
        {
            "specversion": "1.0",
            "id": "7d3a5a52-2f7c-4a3e-9a43-4d0e8f0f4a11",
            "source": "/supplyline",
            "type": "supplyline.po.revised.v1",
            "subject": "PO-480012",
            "time": "2026-11-29T16:35:00Z",
            "datacontenttype": "application/json",
            "supplylinechannel": "erp",
            "data": {"po_number": "PO-480012", "revision": 2},
        }
    ],
    "has_more": False,
    "next": "https://supplyline.example/api/v1/events/?after=7d3a5a52-2f7c-4a3e-9a43-4d0e8f0f4a11",
}


class EventListApi(SupplierApiView):
    required_scopes: ClassVar[dict[str, str]] = {"GET": "orders:read"}

    @extend_schema(
        operation_id="events_list",
        summary="Read your events feed",
        description=(
            "The changes that concern your supplier, oldest first, as CloudEvents 1.0: "
            + ", ".join(selectors.SUPPLIER_EVENT_TYPES)
            + ". Pass the id of the last event you handled as `after` (or follow `next`, which always points "
            "past this page); an `after` that is not one of your events, or one past the retention period (400 days "
            "by default), is a 422: read again without it."
        ),
        parameters=[
            OpenApiParameter("after", str, description="The id of the last event you handled; omit to start."),
            OpenApiParameter("limit", int, description=f"Events per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."),
        ],
        responses={200: EventPageOutput, **problems(422)},
        examples=[OpenApiExample("A page", value=_EVENT_EXAMPLE, response_only=True)],
        tags=["events"],
    )
    def get(self, request: Request) -> Response:
        query = validated(EventQuery(data=request.query_params.dict()))
        after, limit = query["after"] or None, query["limit"]
        try:
            events = selectors.supplier_event_list(supplier=key_supplier(request), after=after, limit=limit + 1)
        except selectors.UnknownEventCursor:
            days = settings.PLANNING_SYNC_RETENTION_DAYS
            kept = f" (events are kept {days} days once delivered)" if days > 0 else ""
            raise ValidationError(
                {"after": [f"No event of yours has this id{kept}: read the feed again without after."]}
            ) from None
        page = events[:limit]
        last = str(page[-1].event_id) if page else after
        url = request.build_absolute_uri(reverse("api:event-list"))
        url = replace_query_param(url, "limit", limit) if "limit" in request.query_params else url
        body = {
            "results": [cloudevent(event) for event in page],
            "has_more": len(events) > limit,
            "next": replace_query_param(url, "after", last) if last else url,
        }
        return Response(EventPageOutput(body).data)
