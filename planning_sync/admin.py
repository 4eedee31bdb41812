import json
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from config.admin import ReadOnlyAdmin
from planning_sync import credentials, delivery
from planning_sync.connectors import REGISTRY, kind_choices
from planning_sync.envelope import cloudevent
from planning_sync.models import Connector, Delivery, InboundRecord, OutboxEvent, Subscription, TrytonMapping


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin[OutboxEvent]):
    """The outbox is append-only: staff read it, nobody edits it."""

    list_display = ["recorded_at", "type", "subject", "channel", "actor", "priority"]
    list_filter = ["type", "channel", "priority"]
    search_fields = ["subject", "event_id"]
    list_select_related = ["actor"]
    show_full_result_count = False


def _named_messages(error: ValidationError) -> Iterator[str]:
    """Each message of a connector's settings error, starting with the setting's name where it does not say it."""
    if not hasattr(error, "error_dict"):
        yield from error.messages
        return
    for name, messages_ in error.message_dict.items():
        for message in messages_:
            yield message if message.startswith(name) else f"{name}: {message}"


class ConnectorForm(forms.ModelForm[Connector]):
    kind = forms.ChoiceField(choices=kind_choices, help_text="Which connector class talks to the system.")

    class Meta:
        model = Connector
        fields = [
            "name",
            "kind",
            "description",
            "is_enabled",
            "config",
            "timeout_s",
            "rate_per_s",
            "burst",
            "max_attempts",
            "pull_cursor",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Staff see that a credential is stored, never the credential: the page is no way to read one.
        if self.instance.pk is not None:
            self.initial["config"] = credentials.masked(self.instance.config)
        # The admin shows help text as HTML: the mask's angle brackets must be escaped to show.
        self.fields["config"].help_text = format_html(
            '{} Stored passwords, tokens and signing secrets show as "{}": leave that to keep one, or type a new '
            "value to replace it.",
            self.fields["config"].help_text,
            credentials.MASK,
        )

    def clean_config(self) -> Any:
        config = self.cleaned_data.get("config")
        try:
            # self.instance still holds what is stored: the form's values reach it only after clean().
            return credentials.unmasked(config, self.instance.config if self.instance.pk else None)
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind, config = REGISTRY.get(cleaned.get("kind", "")), cleaned.get("config")
        if kind is None or config is None:
            return cleaned  # the field's own error says what is wrong
        if not isinstance(config, dict):
            self.add_error("config", 'The settings must be a JSON object, e.g. {"url": "https://erp.example/events"}.')
            return cleaned
        try:
            kind.validate_config(config)
        except ValidationError as error:
            for message in _named_messages(error):
                self.add_error("config", message)
        return cleaned


class SubscriptionInline(admin.TabularInline[Subscription, Connector]):
    model = Subscription
    extra = 1


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin[Connector]):
    form = ConnectorForm
    list_display = ["name", "kind", "is_enabled", "circuit", "consecutive_failures", "last_success_at"]
    list_filter = ["kind", "is_enabled", "circuit"]
    search_fields = ["name", "description"]
    inlines = [SubscriptionInline]
    readonly_fields = [
        "has_inbound_token",
        "circuit",
        "circuit_opened_at",
        "consecutive_failures",
        "last_success_at",
        "created_at",
    ]
    fieldsets = (
        (None, {"fields": ("name", "kind", "description", "is_enabled", "config")}),
        ("Limits", {"fields": ("timeout_s", "rate_per_s", "burst", "max_attempts", "delivery_class")}),
        ("Inbound feeds", {"fields": ("has_inbound_token", "pull_cursor")}),
        (
            "Health (kept by the delivery engine)",
            {"fields": ("circuit", "circuit_opened_at", "consecutive_failures", "last_success_at", "created_at")},
        ),
    )
    actions = ["generate_inbound_token"]

    @admin.display(boolean=True, description="inbound token set")
    def has_inbound_token(self, obj: Connector) -> bool:
        return bool(obj.inbound_token_hash)

    @admin.action(description="Generate an inbound token", permissions=["change"])
    def generate_inbound_token(self, request: HttpRequest, queryset: QuerySet[Connector]) -> None:
        # Imported here: the inbound module depends on much more than the admin does.
        from planning_sync.inbound import issue_inbound_token

        for connector in queryset:
            token = issue_inbound_token(connector)
            self.message_user(
                request,
                f"Inbound token for {connector.name}: {token} — copy it now, it is not shown again. "
                "It replaces the previous token.",
                messages.WARNING,
            )


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin[Subscription]):
    list_display = ["connector", "event_type", "is_active"]
    list_filter = ["is_active", "connector"]
    search_fields = ["event_type", "connector__name"]
    list_select_related = ["connector"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin[Delivery]):
    """Deliveries are the engine's work: staff read them and replay them; nobody edits them."""

    list_display = [
        "event_type",
        "subject",
        "connector",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "delivered_at",
    ]
    list_filter = ["status", "connector"]
    search_fields = ["event__subject", "event__event_id"]
    list_select_related = ["event", "connector"]
    show_full_result_count = False
    readonly_fields = ["cloudevent_json"]
    actions = ["replay_selected"]

    @admin.display(description="event type", ordering="event__type")
    def event_type(self, obj: Delivery) -> str:
        return obj.event.type

    @admin.display(description="subject", ordering="event__subject")
    def subject(self, obj: Delivery) -> str:
        return obj.event.subject

    @admin.display(description="CloudEvent sent")
    def cloudevent_json(self, obj: Delivery) -> SafeString:
        return format_html("<pre>{}</pre>", json.dumps(cloudevent(obj.event), indent=2, default=str))

    @admin.action(description="Replay selected (dead or delivered) deliveries", permissions=["replay"])
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        count = delivery.replay(queryset)
        skipped = queryset.count() - count
        note = f" {skipped} still pending, in flight or retrying were left alone." if skipped > 0 else ""
        self.message_user(request, f"Queued {count} for replay with their original event ids.{note}")

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("planning_sync.change_delivery")


@admin.register(InboundRecord)
class InboundRecordAdmin(admin.ModelAdmin[InboundRecord]):
    """Quarantined inbound records: read-only; staff with the delete permission may discard them."""

    list_display = ["received_at", "feed", "connector", "external_id", "short_error"]
    list_filter = ["feed", "connector"]
    search_fields = ["external_id", "error"]
    list_select_related = ["connector"]
    show_full_result_count = False

    @admin.display(description="error")
    def short_error(self, obj: InboundRecord) -> str:
        return obj.error[:120]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: InboundRecord | None = None) -> bool:
        return False


@admin.register(TrytonMapping)
class TrytonMappingAdmin(admin.ModelAdmin[TrytonMapping]):
    """Which Tryton party, product and warehouse our suppliers, items and sites are (Planning sync > Tryton mappings).

    ``manage.py tryton_propose_mappings`` fills most of them by codes; the rest are set here.
    """

    list_display = ["connector", "kind", "tryton_id", "tryton_code", "supplier", "item", "site"]
    list_filter = ["kind", "connector"]
    search_fields = ["tryton_code", "supplier__code", "supplier__name", "item__sku", "site__code"]
    list_select_related = ["connector", "supplier", "item", "site"]
    autocomplete_fields = ["supplier", "item", "site"]
    fields = ["connector", "kind", "tryton_id", "tryton_code", "supplier", "item", "site"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "connector":
            kwargs["queryset"] = Connector.objects.filter(kind="tryton")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
