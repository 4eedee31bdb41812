"""Shipment notices (ASNs): list, send, read, cancel."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.idempotency import idempotent
from config.api.views import SupplierApiView, SupplierListApiView
from purchasing import selectors
from purchasing.api.common import key_supplier, problems, validated
from purchasing.documents.shapes import PackageInput, ShipmentInput, ShipmentLineInput
from purchasing.filters import ShipmentNoticeApiFilter
from purchasing.models import ShipmentNotice
from purchasing.serializers import (
    ShipmentCancelInput,
    ShipmentNoticeDetailOutput,
    ShipmentNoticeInputSerializer,
    ShipmentNoticeSummaryOutput,
)
from purchasing.services import shipment_notice_cancel, shipment_notice_submit

_NOTICE_EXAMPLE = {
    "number": "ASN-2026-0042",
    "ship_date": "2026-12-01",
    "estimated_arrival": "2026-12-03",
    "carrier_scac": "UPSN",
    "tracking_number": "1Z999AA10123456784",
    "packages": [
        {"ref": "P1", "kind": "pallet"},
        {"ref": "C1", "kind": "carton", "parent_ref": "P1"},
        {"ref": "C2", "kind": "carton", "sscc": "006141410000000019", "parent_ref": "P1"},
    ],
    "lines": [
        {"po_number": "PO-200001", "line_number": 10, "quantity": "60", "package_ref": "C1"},
        {"po_number": "PO-200001", "line_number": 20, "quantity": "60", "package_ref": "C2", "lot_number": "L-7"},
    ],
}
LOCATION_HEADER = OpenApiParameter(
    "Location", str, OpenApiParameter.HEADER, description="The new resource's address.", response=[201]
)


def shipment_input(data: dict[str, Any]) -> ShipmentInput:
    """The API's JSON as the shape every channel's notice is read into."""
    return ShipmentInput(
        number=data["number"],
        ship_date=data["ship_date"],
        estimated_arrival=data["estimated_arrival"],
        carrier_scac=data["carrier_scac"],
        carrier_name=data["carrier_name"],
        tracking_number=data["tracking_number"],
        ship_from=data["ship_from"],
        bill_of_lading=data["bill_of_lading"],
        site_code=data["site"],
        packages=tuple(
            PackageInput(ref=p["ref"], kind=p["kind"], sscc=p["sscc"], parent_ref=p["parent_ref"])
            for p in data["packages"]
        ),
        lines=tuple(
            ShipmentLineInput(
                po_number=line["po_number"],
                line_number=line["line_number"],
                quantity=line["quantity"],
                package_ref=line["package_ref"],
                item_sku=line["item_sku"],
                lot_number=line["lot_number"],
                expiry_date=line["expiry_date"],
            )
            for line in data["lines"]
        ),
    )


def _notice_response(request: Request, notice: ShipmentNotice, code: int) -> Response:
    notice = selectors.api_shipment_notice_get(supplier=key_supplier(request), pk=notice.pk)
    headers = {"Location": reverse("api:shipment-notice-detail", args=[notice.pk])} if code == 201 else {}
    return Response(ShipmentNoticeDetailOutput(notice).data, status=code, headers=headers)


class ShipmentNoticeListCreateApi(SupplierListApiView):
    required_scopes: ClassVar[dict[str, str]] = {"GET": "orders:read", "POST": "shipments:write"}
    serializer_class = ShipmentNoticeSummaryOutput
    filterset_class = ShipmentNoticeApiFilter
    ordering: ClassVar[tuple[str, ...]] = ShipmentNoticeApiFilter.ordering  # newest first (asn_supplier_list_idx)

    def get_queryset(self) -> QuerySet[ShipmentNotice]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no API key
            return ShipmentNotice.objects.none()
        return selectors.api_shipment_notice_list(supplier=key_supplier(self.request))

    @extend_schema(
        operation_id="shipment_notices_list",
        summary="List your shipment notices",
        description="Your notices, newest first, in keyset pages (follow `next`); `po` narrows to one PO's.",
        responses={200: ShipmentNoticeSummaryOutput(many=True), **problems(422)},
        tags=["shipment notices"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="shipment_notices_create",
        summary="Send a shipment notice",
        description=(
            "What you shipped, all or nothing: packages (nested by parent_ref; an empty sscc gets one generated "
            "from your GS1 company prefix) and lines against acknowledged PO lines, within your quantity "
            "tolerance. Errors are keyed by position from 1, e.g. `lines.2.quantity` for the second line. "
            "The response lists packages parents first with their SSCCs; each line names its package's SSCC."
        ),
        request=ShipmentNoticeInputSerializer,
        parameters=[LOCATION_HEADER],
        responses={201: ShipmentNoticeDetailOutput, **problems(400)},
        examples=[OpenApiExample("A pallet of two cartons", value=_NOTICE_EXAMPLE, request_only=True)],
        tags=["shipment notices"],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(ShipmentNoticeInputSerializer(data=request.data))
        notice = shipment_notice_submit(
            supplier=key_supplier(request), by=None, shipment=shipment_input(data), channel="api"
        )
        return _notice_response(request, notice, status.HTTP_201_CREATED)


class ShipmentNoticeDetailApi(SupplierApiView):
    required_scopes: ClassVar[dict[str, str]] = {"GET": "orders:read"}

    @extend_schema(
        operation_id="shipment_notices_retrieve",
        summary="Read one shipment notice",
        responses={200: ShipmentNoticeDetailOutput},
        tags=["shipment notices"],
    )
    def get(self, request: Request, pk: int) -> Response:
        notice = selectors.api_shipment_notice_get(supplier=key_supplier(request), pk=pk)
        return Response(ShipmentNoticeDetailOutput(notice).data)


class ShipmentNoticeCancelApi(SupplierApiView):
    required_scopes: ClassVar[dict[str, str]] = {"POST": "shipments:write"}

    @extend_schema(
        operation_id="shipment_notices_cancel",
        summary="Cancel a shipment notice",
        description="Withdraw a notice the warehouse has not received; its quantities leave the PO lines.",
        request=ShipmentCancelInput,
        responses={200: ShipmentNoticeDetailOutput, **problems(400)},
        examples=[OpenApiExample("Cancel", value={"reason": "Truck did not leave."}, request_only=True)],
        tags=["shipment notices"],
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        notice = selectors.api_shipment_notice_get(supplier=key_supplier(request), pk=pk)
        data = validated(ShipmentCancelInput(data=request.data))
        shipment_notice_cancel(notice=notice, by=None, reason=data["reason"], channel="api")
        return _notice_response(request, notice, status.HTTP_200_OK)
