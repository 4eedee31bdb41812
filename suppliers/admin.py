from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from suppliers import services
from suppliers.models import (
    ApiKey,
    ComplianceDocument,
    ComplianceDocumentType,
    NotificationOptOut,
    ShipFromAddress,
    Supplier,
    SupplierContact,
    SupplierItem,
    SupplierMembership,
    TermsProposal,
    User,
)


def _audit_link(name: str, pk: int | None) -> SafeString | str:
    """A link to the object's history in the portal (buyers only), once the object exists."""
    return format_html('<a href="{}">Who changed what, and when</a>', reverse(name, args=[pk])) if pk else "—"


class MembershipInline(admin.TabularInline[SupplierMembership, Supplier]):
    model = SupplierMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin[Supplier]):
    list_display = ["code", "name", "status", "buyer", "erp_vendor_id", "timezone", "ack_deadline_hours"]
    list_filter = ["status", "buyer"]
    search_fields = ["code", "name", "erp_vendor_id"]
    autocomplete_fields = ["buyer"]
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("code", "name", "erp_vendor_id", "status", "timezone", "buyer")}),
        (
            "Acknowledgement rules (empty fields use the portal defaults)",
            {
                "fields": (
                    "ack_deadline_hours",
                    "price_tolerance_pct",
                    "quantity_tolerance_pct",
                    "days_early_tolerance",
                    "days_late_tolerance",
                )
            },
        ),
        (
            "Shipping and EDI",
            {"fields": ("gs1_company_prefix", "sscc_serial", "edi_standard", "edi_qualifier", "edi_id")},
        ),
        (
            "Company profile (kept by the supplier's admins in the portal)",
            {"fields": Supplier.SUPPLIER_EDITABLE_FIELDS},
        ),
    )
    # The serial moves only when Supplyline numbers a package, under the supplier's row lock.
    readonly_fields = ["sscc_serial"]


@admin.register(SupplierMembership)
class SupplierMembershipAdmin(admin.ModelAdmin[SupplierMembership]):
    list_display = ["user", "supplier", "role", "is_active", "created_at"]
    list_filter = ["role", "is_active"]
    search_fields = ["user__email", "supplier__code", "supplier__name"]
    list_select_related = ["user", "supplier"]
    autocomplete_fields = ["user", "supplier"]
    readonly_fields = ["audit_trail"]

    @admin.display(description="Audit trail")
    def audit_trail(self, obj: SupplierMembership) -> SafeString | str:
        return _audit_link("audit:membership-history", obj.pk)


@admin.register(SupplierItem)
class SupplierItemAdmin(admin.ModelAdmin[SupplierItem]):
    list_display = ["supplier", "supplier_part_number", "item", "lead_time_days", "minimum_order_quantity", "price"]
    list_filter = ["supplier"]
    search_fields = ["supplier_part_number", "item__sku", "supplier__code"]
    list_select_related = ["supplier", "item"]
    autocomplete_fields = ["supplier", "item"]


@admin.register(NotificationOptOut)
class NotificationOptOutAdmin(admin.ModelAdmin[NotificationOptOut]):
    list_display = ["user", "kind"]
    list_filter = ["kind"]
    search_fields = ["user__email"]
    list_select_related = ["user"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    """Read-only: keys are created by supplier admins or `manage.py create_api_key`, which show the key once."""

    list_display = ["prefix", "name", "supplier", "scopes", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_filter = ["supplier"]
    search_fields = ["prefix", "name", "supplier__code"]
    list_select_related = ["supplier"]
    fields = readonly_fields = (
        "supplier",
        "name",
        "prefix",
        "scopes",
        "created_by",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "revoked_by",
        "audit_trail",
    )
    actions = ["revoke"]

    @admin.display(description="Audit trail")
    def audit_trail(self, obj: ApiKey) -> SafeString | str:
        return _audit_link("audit:api-key-history", obj.pk)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        by = request.user if isinstance(request.user, User) else None
        revoked = sum(services.api_key_revoke(key=key, by=by) for key in queryset)
        self.message_user(request, f"Revoked {revoked} API key(s).", messages.SUCCESS)


@admin.register(ComplianceDocumentType)
class ComplianceDocumentTypeAdmin(admin.ModelAdmin[ComplianceDocumentType]):
    list_display = ["name", "is_required", "is_active"]
    list_filter = ["is_required", "is_active"]
    search_fields = ["name"]

    def has_delete_permission(self, request: HttpRequest, obj: ComplianceDocumentType | None = None) -> bool:
        # Types with documents are kept (the documents point at them); make them inactive instead.
        return obj is None or not obj.documents.exists()


@admin.register(ComplianceDocument)
class ComplianceDocumentAdmin(admin.ModelAdmin[ComplianceDocument]):
    """Read-only: uploads and reviews go through the portal's pages, which check the files and roles."""

    list_display = ["supplier", "document_type", "valid_from", "valid_to", "status", "uploaded_at"]
    list_filter = ["status", "document_type"]
    search_fields = ["supplier__code", "filename"]
    list_select_related = ["supplier", "document_type"]
    # The stored file's random name stays out: files are downloaded only through the portal's authorised view.
    fields = readonly_fields = (
        "supplier",
        "document_type",
        "filename",
        "content_type",
        "size",
        "valid_from",
        "valid_to",
        "status",
        "uploaded_by",
        "uploaded_at",
        "reviewed_by",
        "reviewed_at",
        "rejection_reason",
        "reminded_30_at",
        "reminded_7_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ComplianceDocument | None = None) -> bool:
        return False


class _ReadOnlyAdmin[M: Model](admin.ModelAdmin[M]):
    """Kept by the supplier (or decided by a buyer) in the portal, whose services hold the rules: staff look."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False


@admin.register(SupplierContact)
class SupplierContactAdmin(_ReadOnlyAdmin[SupplierContact]):
    list_display = ["supplier", "name", "function", "email", "phone", "is_primary"]
    list_filter = ["function", "is_primary"]
    search_fields = ["supplier__code", "name", "email"]
    list_select_related = ["supplier"]


@admin.register(ShipFromAddress)
class ShipFromAddressAdmin(_ReadOnlyAdmin[ShipFromAddress]):
    list_display = ["supplier", "label", "city", "country", "is_default", "is_active"]
    list_filter = ["is_active", "country"]
    search_fields = ["supplier__code", "label", "city"]
    list_select_related = ["supplier"]


@admin.register(TermsProposal)
class TermsProposalAdmin(_ReadOnlyAdmin[TermsProposal]):
    list_display = ["supplier", "supplier_item", "lead_time_days", "minimum_order_quantity", "effective_date", "status"]
    list_filter = ["status"]
    search_fields = ["supplier__code", "supplier_item__supplier_part_number", "supplier_item__item__sku"]
    list_select_related = ["supplier", "supplier_item__supplier"]
