import uuid

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from planning_sync.credentials import ConnectorConfigField


class OutboxEvent(models.Model):
    """A fact recorded in the same transaction as the change it describes (the transactional outbox).

    Rows are written only through ``planning_sync.outbox.record_event`` and never
    updated; deliveries carry them to the connectors.
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
    # The supplier the event concerns (its PO's or notice's), so a supplier's own feed and webhooks
    # can be served from the outbox; empty for events about no one supplier.
    supplier = models.ForeignKey(
        "suppliers.Supplier", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["supplier", "id"], name="outbox_supplier_idx"),
            models.Index(fields=["aggregate_key", "id"], name="outbox_aggregate_idx"),
            models.Index(fields=["type", "recorded_at"], name="outbox_type_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.subject}"


slug_validator = RegexValidator(r"^[a-z0-9][a-z0-9-]{1,49}$", "Use 2 to 50 lowercase letters, digits and hyphens.")


class Connector(models.Model):
    """An external system we send events to (and, for some kinds, read feeds from)."""

    class Circuit(models.TextChoices):
        CLOSED = "closed", "Closed (healthy)"
        OPEN = "open", "Open (paused after failures)"
        HALF_OPEN = "half_open", "Half open (probing)"

    name = models.CharField(max_length=50, unique=True, validators=[slug_validator])
    kind = models.CharField(max_length=30, help_text="Which connector class talks to the system (the registry key).")
    description = models.CharField(max_length=200, blank=True)
    # A supplier's own webhook endpoint (planning_sync/webhooks.py) gets only that supplier's events;
    # the distributor's connectors (the ERP, planning) have none and get every event they subscribe to.
    supplier = models.ForeignKey(
        "suppliers.Supplier", on_delete=models.PROTECT, null=True, blank=True, related_name="webhook_connectors"
    )
    is_enabled = models.BooleanField(default=True)
    # A connector that must never compete with the ERP's critical work (an internal consumer such as
    # the exception rules) has its deliveries sent in a fixed class instead of each event's own.
    delivery_class = models.PositiveSmallIntegerField(
        choices=OutboxEvent.Priority.choices,
        null=True,
        blank=True,
        help_text="Send every delivery in this class; empty: the event's own (critical for supplier commitments).",
    )
    # Credentials in it are encrypted at rest (planning_sync/credentials.py).
    config = ConnectorConfigField(default=dict, blank=True, help_text="Settings of this kind, validated on save.")
    timeout_s = models.FloatField("timeout (seconds)", default=5.0, validators=[MinValueValidator(0.1)])
    rate_per_s = models.FloatField("rate limit (calls per second)", default=50.0, validators=[MinValueValidator(0.1)])
    burst = models.PositiveIntegerField(default=100)
    max_attempts = models.PositiveIntegerField(default=12, validators=[MinValueValidator(1)])
    # Inbound feeds: a token the system presents when it pushes to us, and where a pull left off.
    inbound_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    pull_cursor = models.CharField(max_length=100, blank=True)
    circuit = models.CharField(max_length=10, choices=Circuit.choices, default=Circuit.CLOSED)
    circuit_opened_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    """Which event types a connector gets: an exact type, or a prefix ending in ``*``."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="subscriptions")
    event_type = models.CharField(
        max_length=100, help_text="e.g. supplyline.po.acknowledged.v1, or supplyline.po.* for every PO event"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connector", "event_type"], name="subscription_unique")]
        ordering = ["connector__name", "event_type"]

    def __str__(self) -> str:
        return f"{self.connector.name} ← {self.event_type}"

    def matches(self, event_type: str) -> bool:
        if self.event_type.endswith("*"):
            return event_type.startswith(self.event_type[:-1])
        return event_type == self.event_type


class Delivery(models.Model):
    """One attempt-tracked send of one event to one connector. These rows, not Celery messages, hold the work."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_FLIGHT = "in_flight", "In flight"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Dead letter"

    event = models.ForeignKey(OutboxEvent, on_delete=models.PROTECT, related_name="deliveries")
    connector = models.ForeignKey(Connector, on_delete=models.PROTECT, related_name="deliveries")
    # Copied from the event so the claim query orders and holds back per aggregate without a join.
    aggregate_key = models.CharField(max_length=100)
    priority = models.PositiveSmallIntegerField(default=OutboxEvent.Priority.DEFAULT)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    replays = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["event", "connector"], name="delivery_event_connector_unique")]
        indexes = [
            # The claim: due work, oldest event first. Partial, so it stays small however many are delivered.
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due_idx",
                condition=Q(status__in=["pending", "failed", "in_flight"]),
            ),
            # The per-aggregate hold-back check and the monitor's backlog per connector.
            models.Index(
                fields=["connector", "aggregate_key", "event"],
                name="delivery_aggregate_idx",
                condition=Q(status__in=["pending", "failed", "in_flight"]),
            ),
            models.Index(fields=["connector", "status", "delivered_at"], name="delivery_monitor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.connector} ({self.status})"


class InboundRecord(models.Model):
    """A record from an inbound feed that could not be applied: kept with its error until fixed or resent."""

    class Feed(models.TextChoices):
        PURCHASE_ORDERS = "purchase_orders", "ERP purchase orders"
        RECEIPTS = "receipts", "ERP receipts"
        INVENTORY = "inventory", "ERP on-hand inventory"
        DEMAND = "demand", "Planning demand"
        SAFETY_STOCK = "safety_stock", "Planning safety stock"

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="quarantine", null=True)
    feed = models.CharField(max_length=20, choices=Feed.choices)
    external_id = models.CharField(max_length=100, blank=True)
    payload = models.JSONField()
    error = models.TextField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["feed", "-received_at"], name="inbound_feed_idx")]

    def __str__(self) -> str:
        return f"{self.get_feed_display()} {self.external_id}: {self.error[:60]}"


class TrytonMapping(models.Model):
    """Which Tryton party, product or warehouse one of our suppliers, items or sites is, for one Tryton connector.

    Kept by hand in the admin (or proposed by codes with ``manage.py tryton_propose_mappings``):
    the connector never guesses, and quarantines what has no mapping.
    """

    class Kind(models.TextChoices):
        SUPPLIER = "supplier", "Supplier ↔ party"
        ITEM = "item", "Item ↔ product"
        SITE = "site", "Site ↔ warehouse"

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="tryton_mappings")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    tryton_id = models.PositiveIntegerField("Tryton id", help_text="The id of the party, product or warehouse.")
    tryton_code = models.CharField(
        "Tryton code", max_length=100, blank=True, help_text="Its code in Tryton when mapped, for people reading this."
    )
    # One column per kind, so each points at a real row and the admin can offer a search.
    supplier = models.ForeignKey(
        "suppliers.Supplier", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    item = models.ForeignKey("purchasing.Item", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    site = models.ForeignKey("purchasing.Site", on_delete=models.CASCADE, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["connector__name", "kind", "tryton_code"]
        constraints = [
            models.UniqueConstraint(fields=["connector", "kind", "tryton_id"], name="tryton_mapping_tryton_unique"),
            models.UniqueConstraint(fields=["connector", "supplier"], name="tryton_mapping_supplier_unique"),
            models.UniqueConstraint(fields=["connector", "item"], name="tryton_mapping_item_unique"),
            models.UniqueConstraint(fields=["connector", "site"], name="tryton_mapping_site_unique"),
            models.CheckConstraint(
                condition=(
                    Q(kind="supplier", supplier__isnull=False, item__isnull=True, site__isnull=True)
                    | Q(kind="item", supplier__isnull=True, item__isnull=False, site__isnull=True)
                    | Q(kind="site", supplier__isnull=True, item__isnull=True, site__isnull=False)
                ),
                name="tryton_mapping_one_local_object",
                violation_error_message="Choose exactly the supplier, item or site of the mapping's kind.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.local_object} = Tryton {self.tryton_code or self.tryton_id}"

    @property
    def local_id(self) -> int | None:
        return {"supplier": self.supplier_id, "item": self.item_id, "site": self.site_id}[self.kind]

    @property
    def local_object(self) -> models.Model | None:
        return {"supplier": self.supplier, "item": self.item, "site": self.site}[self.kind]


class TrytonPurchase(models.Model):
    """What the Tryton connector last imported of one Tryton purchase: its revision, content and line numbers.

    A purchase whose content hash differs from the stored one is sent as the next revision;
    ``line_numbers`` keeps each Tryton purchase line on the same line number of our PO for good.
    """

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="tryton_purchases")
    purchase_id = models.PositiveIntegerField("Tryton purchase id")
    revision = models.PositiveIntegerField(default=0, help_text="0 until the purchase was first imported.")
    content_hash = models.CharField(max_length=64, blank=True)
    # Tryton purchase.line id (as text: JSON keys) -> our PO line number; numbers are never reused.
    line_numbers = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["connector__name", "purchase_id"]
        constraints = [
            models.UniqueConstraint(fields=["connector", "purchase_id"], name="tryton_purchase_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.connector.name}: Tryton purchase {self.purchase_id} rev {self.revision}"
