from django.contrib import admin
from django.http import HttpRequest

from planning_sync.models import OutboxEvent


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin[OutboxEvent]):
    """The outbox is append-only: staff read it, nobody edits it."""

    list_display = ["recorded_at", "type", "subject", "channel", "actor", "priority"]
    list_filter = ["type", "channel", "priority"]
    search_fields = ["subject", "event_id"]
    list_select_related = ["actor"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OutboxEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: OutboxEvent | None = None) -> bool:
        return False
