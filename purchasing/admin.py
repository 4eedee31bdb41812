from django.contrib import admin
from django.http import HttpRequest

from config.admin import ReadOnlyAdmin
from purchasing.models import (
    Acknowledgement,
    AcknowledgementLine,
    HistoryEntry,
    InboundDocument,
    Item,
    OutboundDocument,
    PurchaseOrder,
    PurchaseOrderLine,
    ReasonCode,
    ScheduleLine,
    ShipmentLine,
    ShipmentNotice,
    ShipmentPackage,
    Site,
)


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin[Site]):
    list_display = ["code", "name", "timezone"]
    search_fields = ["code", "name"]


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin[Item]):
    list_display = ["sku", "description", "unit_of_measure", "lot_controlled", "expiry_controlled"]
    list_filter = ["unit_of_measure", "lot_controlled", "expiry_controlled"]
    search_fields = ["sku", "description"]


class PurchaseOrderLineInline(admin.TabularInline[PurchaseOrderLine, PurchaseOrder]):
    model = PurchaseOrderLine
    extra = 0
    fields = ["line_number", "item", "ordered_quantity", "unit_price", "need_by_date", "status"]
    readonly_fields = ["status"]
    autocomplete_fields = ["item"]
    show_change_link = True


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(admin.ModelAdmin[PurchaseOrder]):
    list_display = ["number", "supplier", "site", "status", "revision", "order_date", "acknowledgement_due", "buyer"]
    list_filter = ["status", "site", "order_date"]
    search_fields = ["number", "erp_id", "supplier__code", "supplier__name"]
    list_select_related = ["supplier", "site", "buyer"]
    autocomplete_fields = ["supplier", "buyer", "site"]
    date_hierarchy = "order_date"
    # Status and version move only through services (the state machine and optimistic locking).
    readonly_fields = ["status", "version", "created_at", "updated_at"]
    inlines = [PurchaseOrderLineInline]
    show_full_result_count = False


class ScheduleLineInline(admin.TabularInline[ScheduleLine, PurchaseOrderLine]):
    model = ScheduleLine
    extra = 0


@admin.register(PurchaseOrderLine)
class PurchaseOrderLineAdmin(admin.ModelAdmin[PurchaseOrderLine]):
    list_display = ["__str__", "item", "ordered_quantity", "unit_price", "need_by_date", "status"]
    list_filter = ["status"]
    search_fields = ["po__number", "item__sku"]
    list_select_related = ["po", "item"]
    autocomplete_fields = ["po", "item"]
    readonly_fields = ["status", "original_promised_date"]
    inlines = [ScheduleLineInline]
    show_full_result_count = False


@admin.register(ScheduleLine)
class ScheduleLineAdmin(admin.ModelAdmin[ScheduleLine]):
    list_display = ["__str__", "quantity", "promised_date"]
    search_fields = ["line__po__number"]
    list_select_related = ["line__po"]
    raw_id_fields = ["line"]
    show_full_result_count = False


@admin.register(ReasonCode)
class ReasonCodeAdmin(admin.ModelAdmin[ReasonCode]):
    list_display = ["code", "label", "is_active", "sort_order"]
    list_filter = ["is_active"]
    list_editable = ["is_active", "sort_order"]
    search_fields = ["code", "label"]


class AcknowledgementLineInline(admin.TabularInline[AcknowledgementLine, Acknowledgement]):
    model = AcknowledgementLine
    extra = 0
    fields = ("line", "action", "reason_code", "outcome", "breaches", "decided_by", "decided_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Acknowledgement | None = None) -> bool:
        return False


@admin.register(Acknowledgement)
class AcknowledgementAdmin(ReadOnlyAdmin[Acknowledgement]):
    list_display = ["po", "revision", "submitted_by", "channel", "submitted_at"]
    list_filter = ["channel"]
    search_fields = ["po__number", "submitted_by__email"]
    list_select_related = ["po", "submitted_by"]
    inlines = [AcknowledgementLineInline]
    show_full_result_count = False


@admin.register(AcknowledgementLine)
class AcknowledgementLineAdmin(ReadOnlyAdmin[AcknowledgementLine]):
    list_display = ["__str__", "action", "outcome", "decided_by", "decided_at"]
    list_filter = ["outcome", "action"]
    search_fields = ["line__po__number"]
    list_select_related = ["line__po", "decided_by"]
    show_full_result_count = False


@admin.register(HistoryEntry)
class HistoryEntryAdmin(ReadOnlyAdmin[HistoryEntry]):
    list_display = ["po", "line_number", "action", "summary", "actor", "channel", "at"]
    list_filter = ["channel", "action"]
    search_fields = ["po__number", "summary"]
    list_select_related = ["po", "actor"]
    show_full_result_count = False


# --- shipment notices and B2B documents: records of what suppliers sent; they change through services only.


class ShipmentPackageInline(admin.TabularInline[ShipmentPackage, ShipmentNotice]):
    model = ShipmentPackage
    extra = 0
    fields = ("position", "kind", "sscc", "parent")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: ShipmentNotice | None = None) -> bool:
        return False


class ShipmentLineInline(admin.TabularInline[ShipmentLine, ShipmentNotice]):
    model = ShipmentLine
    extra = 0
    fields = ("position", "po_line", "quantity", "package", "lot_number", "expiry_date", "received_quantity")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: ShipmentNotice | None = None) -> bool:
        return False


@admin.register(ShipmentNotice)
class ShipmentNoticeAdmin(ReadOnlyAdmin[ShipmentNotice]):
    list_display = ["number", "supplier", "site", "status", "ship_date", "estimated_arrival", "channel", "submitted_at"]
    list_filter = ["status", "channel", "site"]
    search_fields = ["number", "supplier__code", "tracking_number", "lines__po_line__po__number"]
    list_select_related = ["supplier", "site"]
    inlines = [ShipmentPackageInline, ShipmentLineInline]
    show_full_result_count = False


@admin.register(InboundDocument)
class InboundDocumentAdmin(ReadOnlyAdmin[InboundDocument]):
    list_display = ["pk", "supplier", "format", "kind", "source", "status", "filename", "control_number", "received_at"]
    list_filter = ["status", "format", "kind", "source"]
    search_fields = ["supplier__code", "filename", "control_number", "sender_id"]
    list_select_related = ["supplier"]
    exclude = ["content"]  # binary: downloaded from the portal's document page
    show_full_result_count = False


@admin.register(OutboundDocument)
class OutboundDocumentAdmin(ReadOnlyAdmin[OutboundDocument]):
    list_display = ["filename", "supplier", "format", "kind", "control_number", "created_at"]
    list_filter = ["format", "kind"]
    search_fields = ["supplier__code", "filename", "po__number"]
    list_select_related = ["supplier"]
    exclude = ["content"]
    show_full_result_count = False
