import django_filters
from django import forms
from django.db.models import Q, QuerySet

from purchasing.models import POStatus, PurchaseOrder, Site
from suppliers.models import Supplier

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PurchaseOrderFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no type hints
    TABS = (
        ("awaiting", "Awaiting acknowledgement"),
        ("overdue", "Acknowledgement overdue"),
        ("open", "Open"),
    )

    tab = django_filters.ChoiceFilter(choices=TABS, method="filter_tab", empty_label="All", label="Show")
    q = django_filters.CharFilter(method="search", label="Search", help_text="PO number or ERP id")
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

    class Meta:
        model = PurchaseOrder
        fields = ["tab", "q", "status", "site", "supplier", "ordered_after", "ordered_before"]

    def __init__(self, *args: object, suppliers: QuerySet[Supplier] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if suppliers is None:
            # Supplier users only ever filter within their own supplier.
            del self.filters["supplier"]
        else:
            self.filters["supplier"].queryset = suppliers

    def search(self, queryset: QuerySet[PurchaseOrder], name: str, value: str) -> QuerySet[PurchaseOrder]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(number__istartswith=value) | Q(erp_id__iexact=value))

    def filter_tab(self, queryset: QuerySet[PurchaseOrder], name: str, value: str) -> QuerySet[PurchaseOrder]:
        if value == "awaiting":
            return queryset.awaiting_acknowledgement()  # type: ignore[attr-defined,no-any-return]
        if value == "overdue":
            return queryset.acknowledgement_overdue()  # type: ignore[attr-defined,no-any-return]
        if value == "open":
            return queryset.open()  # type: ignore[attr-defined,no-any-return]
        return queryset
