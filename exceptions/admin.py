"""The rules' thresholds and SLAs, per supplier and site; exception cases, to browse (buyers work them in the queue)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from config.admin import ReadOnlyAdmin
from exceptions.models import CaseActivity, CaseType, ExceptionCase, RuleSetting
from exceptions.thresholds import DEFAULTS, DESCRIPTIONS


def uses_threshold(rule: str) -> bool:
    # DESCRIPTIONS say what each rule's threshold and grace days mean; a rule that names neither ignores it.
    return "threshold" in DESCRIPTIONS[rule].lower()


def uses_grace(rule: str) -> bool:
    return "grace days" in DESCRIPTIONS[rule].lower()


def _rule_help() -> SafeString:
    """Every rule with what it checks and its built-in defaults, under the rule field."""
    rows = (
        (
            CaseType(rule).label,
            DESCRIPTIONS[rule],
            f"severity {DEFAULTS[rule].severity}, SLA {DEFAULTS[rule].sla_hours} h, "
            f"threshold {DEFAULTS[rule].threshold}, grace {DEFAULTS[rule].grace_days} days",
        )
        for rule in CaseType.values
    )
    items = format_html_join("", "<li><strong>{}</strong>: {} <em>Defaults: {}.</em></li>", rows)
    return format_html(
        "Leave supplier and site empty for the rule's default; set either or both to override it there. "
        "Empty fields take the less specific setting's value.<ul>{}</ul>",
        items,
    )


class RuleSettingForm(forms.ModelForm[RuleSetting]):
    class Meta:
        model = RuleSetting
        fields = ["rule", "supplier", "site", "is_enabled", "severity", "sla_hours", "threshold", "grace_days"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rule"].help_text = _rule_help()
        rule = self.instance.rule if self.instance.pk else None
        if rule:
            self.fields["threshold"].help_text = DESCRIPTIONS[rule]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        rule = cleaned.get("rule")
        if not rule:
            return cleaned  # the field's own error says what is wrong
        label = CaseType(rule).label
        if cleaned.get("threshold") is not None and not uses_threshold(rule):
            self.add_error("threshold", f"{label} has no threshold: leave it empty.")
        if cleaned.get("grace_days") is not None and not uses_grace(rule):
            self.add_error("grace_days", f"{label} has no grace days: leave it empty.")
        if cleaned.get("sla_hours") is not None and cleaned["sla_hours"] > 24 * 90:
            self.add_error("sla_hours", "Keep the SLA to 90 days (2160 hours) at most.")
        return cleaned


@admin.register(RuleSetting)
class RuleSettingAdmin(admin.ModelAdmin[RuleSetting]):
    form = RuleSettingForm
    list_display = ["rule", "supplier", "site", "is_enabled", "severity", "sla_hours", "threshold", "grace_days"]
    list_filter = ["rule", "site", "is_enabled"]
    search_fields = ["supplier__code", "supplier__name", "site__code"]
    list_select_related = ["supplier", "site"]
    autocomplete_fields = ["supplier"]
    readonly_fields = ["what_it_checks"]
    fields = [
        "rule",
        "what_it_checks",
        "supplier",
        "site",
        "is_enabled",
        "severity",
        "sla_hours",
        "threshold",
        "grace_days",
    ]

    @admin.display(description="What it checks")
    def what_it_checks(self, obj: RuleSetting) -> str:
        return DESCRIPTIONS.get(obj.rule, "Choose a rule, save, and its description shows here.")


class CaseActivityInline(admin.TabularInline[CaseActivity, ExceptionCase]):
    model = CaseActivity
    fields = ["at", "kind", "actor", "note", "data"]
    readonly_fields = ["at", "kind", "actor", "note", "data"]
    extra = 0
    can_delete = False
    ordering = ["at", "id"]

    def has_add_permission(self, request: HttpRequest, obj: ExceptionCase | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ExceptionCase | None = None) -> bool:
        return False


@admin.register(ExceptionCase)
class ExceptionCaseAdmin(ReadOnlyAdmin[ExceptionCase]):
    """Cases change only through the services (the queue, the rules), which keep their history."""

    list_display = ["id", "type", "severity", "status", "title", "supplier", "assignee", "due_at", "opened_at"]
    list_filter = ["type", "status", "severity"]
    search_fields = ["dedupe_key", "title", "po__number", "supplier__code"]
    list_select_related = ["supplier", "assignee"]
    inlines = [CaseActivityInline]
    show_full_result_count = False  # the table grows large: no COUNT(*) over it on every page
