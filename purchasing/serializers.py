"""The API's input and output shapes (docs/api.md). Inputs only check shape and types: every business
rule is the services'. Outputs are read-only and read what the selectors already joined."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from purchasing.models import (
    AcknowledgementLine,
    DocumentKind,
    InboundDocument,
    LineStatus,
    OutboundDocument,
    POStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    ScheduleLine,
    ShipmentLine,
    ShipmentNotice,
    ShipmentPackage,
    ShipmentStatus,
)
from purchasing.rules import decimal_text


def po_etag(po: PurchaseOrder) -> str:
    """The PO's entity tag: it changes with every write of the PO or its lines (the optimistic-lock version)."""
    return f'"po-{po.number}-v{po.version}"'


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": r"^-?\d{0,11}(\.\d{0,4})?$", "example": "12.40"},
            {"type": "number"},
        ]
    }
)
class DecimalInputField(serializers.DecimalField):
    """A decimal given as a JSON string ("12.40", exact) or a number (12.4)."""


@extend_schema_field({"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "example": "90"})
class DecimalTextField(serializers.Field):  # type: ignore[type-arg]
    """A decimal as a string without trailing zeros ("90", "12.4"), exact whatever the client's float type."""

    def to_representation(self, value: Decimal) -> str:
        return decimal_text(value)


# --- purchase orders --------------------------------------------------------------------------------


class ScheduleLineOutput(serializers.ModelSerializer[ScheduleLine]):
    quantity = DecimalTextField()

    class Meta:
        model = ScheduleLine
        fields = ["schedule_number", "quantity", "promised_date"]
        read_only_fields = fields


class PurchaseOrderLineOutput(serializers.ModelSerializer[PurchaseOrderLine]):
    item_sku = serializers.CharField(source="item.sku", read_only=True)
    item_description = serializers.CharField(source="item.description", read_only=True)
    unit_of_measure = serializers.CharField(source="item.unit_of_measure", read_only=True)
    ordered_quantity = DecimalTextField()
    unit_price = DecimalTextField()
    shipped_quantity = DecimalTextField()
    received_quantity = DecimalTextField()
    schedule_lines = ScheduleLineOutput(many=True, read_only=True)
    revision_changes = serializers.DictField(
        read_only=True, help_text="What the buyer's last change order changed: {field: [old, new]}."
    )

    class Meta:
        model = PurchaseOrderLine
        fields = [
            "line_number",
            "item_sku",
            "item_description",
            "unit_of_measure",
            "ordered_quantity",
            "unit_price",
            "need_by_date",
            "status",
            "original_promised_date",
            "shipped_quantity",
            "received_quantity",
            "revision_changes",
            "schedule_lines",
        ]
        read_only_fields = fields


_PO_FIELDS = [
    "number",
    "revision",
    "version",
    "status",
    "needs_acknowledgement",
    "site",
    "currency",
    "order_date",
    "acknowledgement_due",
    "acknowledged_at",
    "created_at",
    "updated_at",
]


class PurchaseOrderSummaryOutput(serializers.ModelSerializer[PurchaseOrder]):
    site = serializers.CharField(source="site.code", read_only=True, help_text="The ship-to site's code.")
    needs_acknowledgement = serializers.BooleanField(source="is_awaiting_acknowledgement", read_only=True)
    line_count = serializers.IntegerField(read_only=True)
    total_value = DecimalTextField(help_text="The sum of ordered quantity times unit price, in the PO's currency.")

    class Meta:
        model = PurchaseOrder
        fields = [*_PO_FIELDS, "line_count", "total_value"]
        read_only_fields = fields


class PurchaseOrderDetailOutput(serializers.ModelSerializer[PurchaseOrder]):
    site = serializers.CharField(source="site.code", read_only=True, help_text="The ship-to site's code.")
    needs_acknowledgement = serializers.BooleanField(source="is_awaiting_acknowledgement", read_only=True)
    etag = serializers.SerializerMethodField(help_text="The ETag header's value: send it as If-Match to answer.")
    lines = PurchaseOrderLineOutput(many=True, read_only=True)

    class Meta:
        model = PurchaseOrder
        fields = [*_PO_FIELDS, "etag", "lines"]
        read_only_fields = fields

    def get_etag(self, po: PurchaseOrder) -> str:
        return po_etag(po)


# --- acknowledgements -------------------------------------------------------------------------------


class DeliveryInput(serializers.Serializer[Any]):
    quantity = DecimalInputField(max_digits=14, decimal_places=3)
    date = serializers.DateField(help_text="The promised delivery date.")


class LineDecisionInput(serializers.Serializer[Any]):
    line_number = serializers.IntegerField(min_value=1)
    action = serializers.ChoiceField(choices=AcknowledgementLine.Action.choices)
    reason_code = serializers.CharField(required=False, default="", allow_blank=True, max_length=30)
    note = serializers.CharField(required=False, default="", allow_blank=True, max_length=2000)
    quantity = DecimalInputField(max_digits=14, decimal_places=3, required=False, allow_null=True, default=None)
    unit_price = DecimalInputField(max_digits=14, decimal_places=4, required=False, allow_null=True, default=None)
    deliveries = DeliveryInput(many=True, required=False, default=list, max_length=10)  # type: ignore[call-arg]  # DRF takes it; the stubs lag


class AcknowledgementInputSerializer(serializers.Serializer[Any]):
    note = serializers.CharField(required=False, default="", allow_blank=True, max_length=2000)
    lines = LineDecisionInput(many=True, allow_empty=True, max_length=1000)  # type: ignore[call-arg]  # DRF takes it; the stubs lag


class AnswerOutput(serializers.ModelSerializer[AcknowledgementLine]):
    line_number = serializers.IntegerField(source="line.line_number", read_only=True)
    reason_code = serializers.CharField(source="reason_code.code", read_only=True, allow_null=True, default=None)
    outcome = serializers.ChoiceField(
        choices=[AcknowledgementLine.Outcome.APPLIED, AcknowledgementLine.Outcome.PENDING],
        read_only=True,
        help_text="applied: in effect now (touchless). pending: waits for the buyer (a change outside "
        "tolerance, or any rejection).",
    )
    line_status = serializers.ChoiceField(
        source="line.status",
        choices=LineStatus.choices,
        read_only=True,
        help_text="The line's status after the answer: acknowledged, changes_pending or rejected.",
    )
    breaches = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Why a change waits: the tolerances it exceeds."
    )
    proposed = serializers.DictField(
        read_only=True, help_text="The line as answered: quantity, unit_price, deliveries [{quantity, date}]."
    )

    class Meta:
        model = AcknowledgementLine
        fields = ["line_number", "action", "outcome", "line_status", "reason_code", "note", "breaches", "proposed"]
        read_only_fields = fields


class AcknowledgementOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    po_number = serializers.CharField(read_only=True)
    revision = serializers.IntegerField(read_only=True, help_text="The PO revision this answers.")
    version = serializers.IntegerField(read_only=True, help_text="The PO's version after the answer.")
    status = serializers.ChoiceField(choices=POStatus.choices, read_only=True, help_text="The PO's status now.")
    etag = serializers.CharField(read_only=True, help_text="The PO's new ETag (also the ETag header).")
    channel = serializers.CharField(read_only=True)
    note = serializers.CharField(read_only=True)
    submitted_at = serializers.DateTimeField(read_only=True)
    lines = AnswerOutput(many=True, read_only=True)


# --- shipment notices -------------------------------------------------------------------------------


class PackageInputSerializer(serializers.Serializer[Any]):
    ref = serializers.CharField(max_length=50, help_text="Your name for the package, used by parent_ref and lines.")
    kind = serializers.ChoiceField(choices=ShipmentPackage.Kind.choices, default=ShipmentPackage.Kind.CARTON)
    sscc = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=18, help_text="Empty: one is generated."
    )
    parent_ref = serializers.CharField(required=False, allow_null=True, default=None, max_length=50)


class ShipmentLineInputSerializer(serializers.Serializer[Any]):
    po_number = serializers.CharField(max_length=30)
    line_number = serializers.IntegerField(min_value=1)
    quantity = DecimalInputField(max_digits=14, decimal_places=3)
    package_ref = serializers.CharField(required=False, allow_null=True, default=None, max_length=50)
    item_sku = serializers.CharField(required=False, default="", allow_blank=True, max_length=40)
    lot_number = serializers.CharField(required=False, default="", allow_blank=True, max_length=40)
    expiry_date = serializers.DateField(required=False, allow_null=True, default=None)


class ShipmentNoticeInputSerializer(serializers.Serializer[Any]):
    number = serializers.CharField(max_length=30, help_text="Your ASN number, unique among your active notices.")
    ship_date = serializers.DateField()
    estimated_arrival = serializers.DateField(required=False, allow_null=True, default=None)
    carrier_scac = serializers.CharField(required=False, default="", allow_blank=True, max_length=4)
    carrier_name = serializers.CharField(required=False, default="", allow_blank=True, max_length=100)
    tracking_number = serializers.CharField(required=False, default="", allow_blank=True, max_length=50)
    bill_of_lading = serializers.CharField(required=False, default="", allow_blank=True, max_length=50)
    ship_from = serializers.CharField(required=False, default="", allow_blank=True, max_length=1000)
    site = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=20, help_text="Ship-to site code, checked if given."
    )
    packages = PackageInputSerializer(many=True, required=False, default=list, max_length=2000)  # type: ignore[call-arg]  # DRF takes it; the stubs lag
    lines = ShipmentLineInputSerializer(many=True, max_length=2000)  # type: ignore[call-arg]  # DRF takes it; the stubs lag


class ShipmentCancelInput(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=2000, help_text="Why the notice is withdrawn.")


class PackageOutput(serializers.ModelSerializer[ShipmentPackage]):
    parent_sscc = serializers.CharField(source="parent.sscc", read_only=True, allow_null=True, default=None)

    class Meta:
        model = ShipmentPackage
        fields = ["position", "kind", "sscc", "parent_sscc"]
        read_only_fields = fields


class ShipmentLineOutput(serializers.ModelSerializer[ShipmentLine]):
    po_number = serializers.CharField(source="po_line.po.number", read_only=True)
    line_number = serializers.IntegerField(source="po_line.line_number", read_only=True)
    item_sku = serializers.CharField(source="po_line.item.sku", read_only=True)
    quantity = DecimalTextField()
    received_quantity = serializers.SerializerMethodField()
    package_sscc = serializers.CharField(source="package.sscc", read_only=True, allow_null=True, default=None)

    class Meta:
        model = ShipmentLine
        fields = [
            "position",
            "po_number",
            "line_number",
            "item_sku",
            "quantity",
            "lot_number",
            "expiry_date",
            "package_sscc",
            "received_quantity",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "nullable": True, "pattern": r"^-?\d+(\.\d+)?$"})
    def get_received_quantity(self, line: ShipmentLine) -> str | None:
        return None if line.received_quantity is None else decimal_text(line.received_quantity)


_NOTICE_FIELDS = [
    "id",
    "number",
    "status",
    "site",
    "ship_date",
    "estimated_arrival",
    "carrier_scac",
    "carrier_name",
    "tracking_number",
    "bill_of_lading",
    "channel",
    "replaces",
    "submitted_at",
    "updated_at",
    "received_at",
    "cancelled_at",
    "cancel_reason",
]


class ShipmentNoticeSummaryOutput(serializers.ModelSerializer[ShipmentNotice]):
    site = serializers.CharField(source="site.code", read_only=True)
    status = serializers.ChoiceField(choices=ShipmentStatus.choices, read_only=True)
    replaces = serializers.IntegerField(
        source="replaces_id", read_only=True, allow_null=True, help_text="The id of the notice this one replaced."
    )

    class Meta:
        model = ShipmentNotice
        fields = _NOTICE_FIELDS
        read_only_fields = fields


class ShipmentNoticeDetailOutput(ShipmentNoticeSummaryOutput):
    packages = PackageOutput(many=True, read_only=True, help_text="Each package after the one holding it.")
    lines = ShipmentLineOutput(many=True, read_only=True)

    class Meta:
        model = ShipmentNotice
        fields = [*_NOTICE_FIELDS, "ship_from", "packages", "lines"]
        read_only_fields = fields


# --- documents -----------------------------------------------------------------------------------


class DocumentUploadInput(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="The CSV, Excel, X12 or EDIFACT file.")
    kind = serializers.ChoiceField(
        choices=[("ship_notice", "Ship notice"), ("acknowledgement", "PO acknowledgement")],
        required=False,
        default="",
        allow_blank=True,  # "" (the default) is "not said", as the schema's default must be a valid value
        help_text="What a CSV or Excel file holds; EDI says it itself.",
    )


class DocumentProblemOutput(serializers.Serializer[Any]):
    """One error in a document; only the keys that apply to its format are present. (Optional fields are not
    read_only: drf-spectacular lists every read-only field as required.)"""

    message = serializers.CharField(read_only=True)
    segment = serializers.CharField(required=False, help_text="X12/EDIFACT segment tag.")
    position = serializers.IntegerField(required=False, help_text="1-based segment position.")
    element = serializers.IntegerField(required=False)
    line = serializers.IntegerField(required=False)
    row = serializers.IntegerField(required=False, help_text="CSV/Excel row (1 is the header).")
    column = serializers.CharField(required=False, help_text="CSV/Excel column name.")


class CreatedShipmentOutput(serializers.Serializer[Any]):
    number = serializers.CharField(read_only=True)
    id = serializers.IntegerField(read_only=True, allow_null=True)


class CreatedAcknowledgementOutput(serializers.Serializer[Any]):
    po_number = serializers.CharField(read_only=True)
    revision = serializers.IntegerField(read_only=True, allow_null=True)


class DocumentOutcomeOutput(serializers.Serializer[Any]):
    shipments = CreatedShipmentOutput(many=True, read_only=True)
    acknowledgements = CreatedAcknowledgementOutput(many=True, read_only=True)


class ReplyOutput(serializers.ModelSerializer[OutboundDocument]):
    class Meta:
        model = OutboundDocument
        fields = ["id", "format", "kind", "filename", "control_number", "created_at"]
        read_only_fields = fields


class DocumentOutput(serializers.ModelSerializer[InboundDocument]):
    status = serializers.ChoiceField(choices=InboundDocument.Status.choices, read_only=True)
    # Declared: a generated read-only field loses allow_blank, and a document whose kind was not given has "".
    kind = serializers.ChoiceField(choices=DocumentKind.choices, allow_blank=True, read_only=True)
    errors = DocumentProblemOutput(many=True, read_only=True)  # type: ignore[assignment]  # a field, not .errors
    outcome = serializers.SerializerMethodField()
    duplicate_of = serializers.IntegerField(source="duplicate_of_id", read_only=True, allow_null=True)
    replies = ReplyOutput(many=True, read_only=True, help_text="The 997 or CONTRL we answered an EDI file with.")
    url = serializers.SerializerMethodField()

    class Meta:
        model = InboundDocument
        fields = [
            "id",
            "url",
            "status",
            "format",
            "kind",
            "filename",
            "size",
            "sha256",
            "sender_id",
            "control_number",
            "received_at",
            "errors",
            "outcome",
            "duplicate_of",
            "replies",
        ]
        read_only_fields = fields

    @extend_schema_field(DocumentOutcomeOutput)
    def get_outcome(self, document: InboundDocument) -> dict[str, Any]:
        shipment_ids: dict[str, int] = self.context.get("shipment_ids", {})
        return {
            "shipments": [
                {"number": str(n), "id": shipment_ids.get(str(n))} for n in document.outcome.get("shipments", [])
            ],
            "acknowledgements": [
                {"po_number": str(a.get("po_number", "")), "revision": a.get("revision")}
                for a in document.outcome.get("acknowledgements", [])
            ],
        }

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, document: InboundDocument) -> str:
        return str(self.context["url"])
