"""The queue's filters: by type, severity, status, site, supplier and assignee, and the quick views."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import QueryDict
from django_filters.fields import ModelChoiceField

from exceptions.models import CaseStatus, CaseType, ExceptionCase, Severity
from exceptions.selectors import assignable_buyers, person_name, quick_views
from purchasing.models import Site
from suppliers.models import Supplier, User

# The default: the work to do now. A snoozed case is out of the way until it wakes (cases_wake).
ACTIVE = "active"
UNRESOLVED = "unresolved"
STATUS_CHOICES = [(ACTIVE, "Open or in progress"), (UNRESOLVED, "Unresolved, snoozed too"), *CaseStatus.choices]
VIEW_LABELS = {"mine": "Mine", "unassigned": "Unassigned", "due_soon": "Due soon", "overdue": "Overdue"}


class BuyerFilterField(ModelChoiceField):  # type: ignore[misc]  # django-filter ships no type hints
    def label_from_instance(self, obj: User) -> str:
        return person_name(obj)


class BuyerChoiceFilter(django_filters.ModelChoiceFilter):  # type: ignore[misc]
    field_class = BuyerFilterField


class CaseFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no type hints
    view = django_filters.ChoiceFilter(
        choices=list(VIEW_LABELS.items()), method="filter_view", empty_label="All", label="Show"
    )
    type = django_filters.ChoiceFilter(choices=CaseType.choices, empty_label="Any type")
    severity = django_filters.ChoiceFilter(choices=Severity.choices, empty_label="Any severity")
    status = django_filters.ChoiceFilter(choices=STATUS_CHOICES, method="filter_status", empty_label=None)
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.all(), to_field_name="code", empty_label="Any site")
    supplier = django_filters.ModelChoiceFilter(
        queryset=Supplier.objects.all(), to_field_name="code", empty_label="Any supplier"
    )
    assignee = BuyerChoiceFilter(queryset=assignable_buyers(), empty_label="Anyone")

    class Meta:
        model = ExceptionCase
        fields = ["view", "type", "severity", "status", "site", "supplier", "assignee"]

    def __init__(self, data: QueryDict | None, *, user: User, now: dt.datetime, **kwargs: Any) -> None:
        # Open and in-progress cases unless the buyer asks for others: the queue is the work to do now.
        data = data.copy() if data is not None else QueryDict(mutable=True)
        if not data.get("status"):
            data["status"] = ACTIVE
        super().__init__(data, **kwargs)
        self.user = user
        self.now = now

    @property
    def is_resolved_list(self) -> bool:
        """Resolved cases are listed by when they were resolved, not in the queue's order."""
        return bool(self.form.is_valid() and self.form.cleaned_data.get("status") == CaseStatus.RESOLVED)

    def without(self, *names: str) -> QuerySet[ExceptionCase]:
        """The cases the other filters leave: what the counts of the quick views or of types count."""
        queryset: QuerySet[ExceptionCase] = self.queryset
        for name, value in self.form.cleaned_data.items():
            if name not in names:
                queryset = self.filters[name].filter(queryset, value)
        return queryset

    def filter_view(self, queryset: QuerySet[ExceptionCase], name: str, value: str) -> QuerySet[ExceptionCase]:
        views = quick_views(user=self.user, now=self.now)
        return queryset.filter(views[value]) if value in views else queryset

    def filter_status(self, queryset: QuerySet[ExceptionCase], name: str, value: str) -> QuerySet[ExceptionCase]:
        if value == UNRESOLVED:
            # The same condition as the partial index ``case_queue_idx``, so the planner can use it.
            return queryset.unresolved()  # type: ignore[attr-defined,no-any-return]
        if value == ACTIVE:
            # A subset of the partial index's condition, which the planner proves and uses.
            return queryset.filter(status__in=[CaseStatus.OPEN, CaseStatus.IN_PROGRESS])
        return queryset.filter(status=value)
