import uuid

from django.conf import settings
from django.db import models


class OutboxEvent(models.Model):
    """A fact recorded in the same transaction as the change it describes (the transactional outbox).

    Rows are written only through ``planning_sync.outbox.record_event`` and never
    updated; the integration engine delivers them to the connectors.
    """

    class Priority(models.IntegerChoices):
        CRITICAL = 0, "Critical"
        DEFAULT = 5, "Default"
        BULK = 9, "Bulk"

    # The auto-incrementing id orders one aggregate's events: writers of an
    # aggregate hold its row lock, so they insert (and commit) one after another.
    event_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=100, help_text="Namespaced and versioned, e.g. supplyline.po.acknowledged.v1")
    subject_type = models.CharField(max_length=40, help_text="What the event is about, e.g. purchase_order")
    subject = models.CharField(max_length=60, help_text="Its business key, e.g. the PO number")
    aggregate_key = models.CharField(max_length=100, help_text="Events of one aggregate are delivered in order")
    data = models.JSONField()
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.DEFAULT)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=10, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["aggregate_key", "id"], name="outbox_aggregate_idx"),
            models.Index(fields=["type", "recorded_at"], name="outbox_type_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.subject}"
