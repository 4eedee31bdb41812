from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from suppliers.models import NotificationOptOut, Supplier, SupplierItem, SupplierMembership, User


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
