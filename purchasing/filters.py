import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django_filters.fields import IsoDateTimeField

from purchasing.models import (
    DocumentFormat,
    InboundDocument,
    POStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    ShipmentLine,
    ShipmentNotice,
    ShipmentStatus,
    Site,
)
from suppliers.models import Supplier, SupplierItem

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

# Inbox tabs: name -> (label, how to narrow the visible POs).
TABS: dict[str, tuple[str, Q]] = {
    "awaiting": ("To acknowledge", Q(status__in=PurchaseOrder.AWAITING_ACK_STATUSES)),
    "new": ("New", Q(status=POStatus.ISSUED)),
    "changed": ("Changed by buyer", Q(status=POStatus.REVISED)),
    "overdue": ("Overdue", Q(status__in=PurchaseOrder.AWAITING_ACK_STATUSES)),  # and past due, see filter_tab
    "pending": ("Pending buyer review", Q(status=POStatus.CHANGES_PENDING)),
    "open": ("Open", ~Q(status__in=PurchaseOrder.FINAL_STATUSES)),
}
# Sort options: name -> (label, keyset ordering; the last key is unique).
SORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "newest": ("Newest first", ("-order_date", "-id")),
    "oldest": ("Oldest first", ("order_date", "id")),
    "due": ("Acknowledgement due soonest", ("acknowledgement_due", "id")),
    "number": ("PO number", ("number", "id")),
}


class PurchaseOrderFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no type hints
    tab = django_filters.ChoiceFilter(
        choices=[(k, label) for k, (label, _) in TABS.items()], method="filter_tab", empty_label="All", label="Show"
    )
    q = django_filters.CharFilter(method="search", label="Search", help_text="PO number, item SKU or your part number")
    status = django_filters.ChoiceFilter(choices=POStatus.choices, empty_label="Any status")
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.all(), to_field_name="code", empty_label="Any site")
    supplier = django_filters.ModelChoiceFilter(
        queryset=Supplier.objects.all(), to_field_name="code", empty_label="Any supplier"
    )
    ordered_after = django_filters.DateFilter(
        field_name="order_date", lookup_expr="gte", label="Ordered on or after", widget=DATE_INPUT
    )
    ordered_before = django_filters.DateFilter(
        field_name="order_date", lookup_expr="lte", label="Ordered on or before", widget=DATE_INPUT
    )
    due_before = django_filters.DateFilter(
        field_name="acknowledgement_due", lookup_expr="date__lte", label="Acknowledge by", widget=DATE_INPUT
    )
    sort = django_filters.ChoiceFilter(
        choices=[(k, label) for k, (label, _) in SORTS.items()], method="no_op", empty_label=None, label="Sort"
    )

    class Meta:
        model = PurchaseOrder
        fields = ["tab", "q", "status", "site", "supplier", "ordered_after", "ordered_before", "due_before", "sort"]

    def __init__(self, *args: object, suppliers: QuerySet[Supplier] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if suppliers is None:
            # Supplier users only ever filter within their own supplier.
            del self.filters["supplier"]
        else:
            self.filters["supplier"].queryset = suppliers

    @property
    def ordering(self) -> tuple[str, ...]:
        sort = self.form.cleaned_data.get("sort") if self.form.is_valid() else None
        return SORTS.get(sort or "newest", SORTS["newest"])[1]

    def without_tab(self) -> QuerySet[PurchaseOrder]:
        """The filtered POs before the tab narrows them: what the tab counts count."""
        queryset: QuerySet[PurchaseOrder] = self.queryset
        for name, value in self.form.cleaned_data.items():
            if name != "tab":
                queryset = self.filters[name].filter(queryset, value)
        return queryset

    def filter_tab(self, queryset: QuerySet[PurchaseOrder], name: str, value: str) -> QuerySet[PurchaseOrder]:
        if value == "overdue":
            return queryset.acknowledgement_overdue()  # type: ignore[attr-defined,no-any-return]
        if value in TABS:
            return queryset.filter(TABS[value][1])
        return queryset

    def search(self, queryset: QuerySet[PurchaseOrder], name: str, value: str) -> QuerySet[PurchaseOrder]:
        value = value.strip()
        if not value:
            return queryset
        lines = PurchaseOrderLine.objects.filter(po=OuterRef("pk"))
        by_item = lines.filter(item__sku__iexact=value)
        part_numbers = SupplierItem.objects.filter(
            supplier=OuterRef("po__supplier"), supplier_part_number__iexact=value
        ).values("item_id")
        by_part_number = lines.filter(item_id__in=part_numbers)
        return queryset.filter(
            Q(number__istartswith=value) | Q(erp_id__iexact=value) | Exists(by_item) | Exists(by_part_number)
        )

    def no_op(self, queryset: QuerySet[PurchaseOrder], name: str, value: str) -> QuerySet[PurchaseOrder]:
        return queryset


# --- shipment notices ----------------------------------------------------------------------------


class ShipmentNoticeFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no type hints
    q = django_filters.CharFilter(method="search", label="Search", help_text="ASN, PO or tracking number")
    status = django_filters.ChoiceFilter(choices=ShipmentStatus.choices, empty_label="Any status")
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.all(), to_field_name="code", empty_label="Any site")
    supplier = django_filters.ModelChoiceFilter(
        queryset=Supplier.objects.all(), to_field_name="code", empty_label="Any supplier"
    )
    # The notices of one PO, for the link from the PO's page; not a field people fill in.
    po = django_filters.CharFilter(method="filter_po", label="Purchase order", widget=forms.HiddenInput)

    # Newest first, as the list's indexes are built; the last key is unique (keyset pagination).
    ordering = ("-submitted_at", "-id")

    class Meta:
        model = ShipmentNotice
        fields = ["q", "status", "site", "supplier", "po"]

    def __init__(self, *args: object, suppliers: QuerySet[Supplier] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if suppliers is None:
            # Supplier users only ever see their own suppliers' notices.
            del self.filters["supplier"]
        else:
            self.filters["supplier"].queryset = suppliers

    def search(self, queryset: QuerySet[ShipmentNotice], name: str, value: str) -> QuerySet[ShipmentNotice]:
        value = value.strip()
        if not value:
            return queryset
        by_po = ShipmentLine.objects.filter(shipment=OuterRef("pk"), po_line__po__number__istartswith=value)
        return queryset.filter(Q(number__istartswith=value) | Q(tracking_number__istartswith=value) | Exists(by_po))

    def filter_po(self, queryset: QuerySet[ShipmentNotice], name: str, value: str) -> QuerySet[ShipmentNotice]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Exists(ShipmentLine.objects.filter(shipment=OuterRef("pk"), po_line__po__number=value)))


# --- B2B documents ------------------------------------------------------------------------------


class InboundDocumentFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no type hints
    status = django_filters.ChoiceFilter(choices=InboundDocument.Status.choices, empty_label="Any status")
    format = django_filters.ChoiceFilter(choices=DocumentFormat.choices, empty_label="Any format")
    supplier = django_filters.ModelChoiceFilter(
        queryset=Supplier.objects.all(), to_field_name="code", empty_label="Any supplier"
    )

    class Meta:
        model = InboundDocument
        fields = ["status", "format", "supplier"]

    # The keyset order of the list; the last key is unique.
    ordering = ("-received_at", "-id")

    def __init__(self, *args: object, suppliers: QuerySet[Supplier] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if suppliers is None:
            # Supplier users see only their own suppliers' documents.
            del self.filters["supplier"]
        else:
            self.filters["supplier"].queryset = suppliers


# --- the REST API ----------------------------------------------------------------------------------


class UtcIsoDateTimeField(IsoDateTimeField):  # type: ignore[misc]  # django-filter ships no type hints
    """An ISO 8601 date-time, in UTC: Python accepts offsets up to ±23:59 that PostgreSQL refuses
    (``+19:28`` was a 500), and a date at the edge of the calendar can leave it when moved to UTC."""

    def to_python(self, value: Any) -> dt.datetime | None:
        parsed: dt.datetime | None = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError:
            raise forms.ValidationError("Give a date and time between the years 1 and 9999.", code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):  # type: ignore[misc]
    field_class = UtcIsoDateTimeField


class PurchaseOrderApiFilter(PurchaseOrderFilter):
    """The PO list's filters for the API: the HTML list's, less its tabs and sort (the API pages by last
    change), plus what an integration polls with. A key sees one supplier, so there is no supplier filter."""

    tab = None
    sort = None
    supplier = None
    site = django_filters.CharFilter(field_name="site__code", label="Ship-to site code")
    updated_since = UtcIsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label="Changed at or after (ISO 8601 date-time)"
    )
    needs_acknowledgement = django_filters.BooleanFilter(
        method="filter_needs_acknowledgement", label="Awaiting the supplier's acknowledgement"
    )

    class Meta:
        model = PurchaseOrder
        fields = ["q", "status", "site", "ordered_after", "ordered_before", "due_before", "updated_since"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        # Skip PurchaseOrderFilter.__init__: it narrows a supplier filter this set does not have.
        super(PurchaseOrderFilter, self).__init__(*args, **kwargs)

    def filter_needs_acknowledgement(
        self, queryset: QuerySet[PurchaseOrder], name: str, value: bool | None
    ) -> QuerySet[PurchaseOrder]:
        if value is None:
            return queryset
        awaiting = Q(status__in=PurchaseOrder.AWAITING_ACK_STATUSES)
        return queryset.filter(awaiting if value else ~awaiting)


class ShipmentNoticeApiFilter(ShipmentNoticeFilter):
    """The notice list's filters for the API, less the supplier filter (a key sees one supplier)."""

    supplier = None
    site = django_filters.CharFilter(field_name="site__code", label="Ship-to site code")

    class Meta:
        model = ShipmentNotice
        fields = ["q", "status", "site", "po"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        # Skip ShipmentNoticeFilter.__init__: it narrows a supplier filter this set does not have.
        super(ShipmentNoticeFilter, self).__init__(*args, **kwargs)
