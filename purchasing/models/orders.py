from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Count, DecimalField, Exists, ExpressionWrapper, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from suppliers.models import Supplier, SupplierMembership, User, is_buyer, validate_timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

currency_validator = RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code, e.g. USD.")


class InvalidTransition(ValidationError):
    """A status change the state machine does not allow (docs/domain.md)."""


class Site(models.Model):
    """A ship-to warehouse of the distributor."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    address = models.TextField(blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"


class Item(models.Model):
    sku = models.CharField("SKU", max_length=40, unique=True)
    description = models.CharField(max_length=300)
    unit_of_measure = models.CharField(max_length=10, default="EA")
    lot_controlled = models.BooleanField(
        "lot controlled", default=False, help_text="Shipment notices must give a lot or batch for this item."
    )
    expiry_controlled = models.BooleanField(
        "expiry controlled", default=False, help_text="Shipment notices must give an expiry date for this item."
    )

    class Meta:
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} · {self.description}"


class StatusMachine(models.TextChoices):
    """TextChoices with a transition table: ``TRANSITIONS[old]`` lists the allowed new states."""

    @classmethod
    def transitions(cls) -> dict[str, frozenset[str]]:
        raise NotImplementedError

    @classmethod
    def check(cls, old: str, new: str, *, what: str) -> None:
        if new not in cls.transitions().get(old, frozenset()):
            raise InvalidTransition(
                f"{what} cannot go from {cls(old).label.lower()} to {cls(new).label.lower()}.",
                code="invalid_transition",
            )


class POStatus(StatusMachine):
    ISSUED = "issued", "Issued"
    REVISED = "revised", "Changed by buyer"
    CHANGES_PENDING = "changes_pending", "Changes pending buyer review"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
    SHIPPED = "shipped", "Shipped"
    RECEIVED = "received", "Received"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"

    @classmethod
    def transitions(cls) -> dict[str, frozenset[str]]:
        return _PO_TRANSITIONS


_PO_TRANSITIONS: dict[str, frozenset[str]] = {
    POStatus.ISSUED: frozenset({POStatus.ACKNOWLEDGED, POStatus.CHANGES_PENDING, POStatus.REVISED, POStatus.CANCELLED}),
    # Revised -> issued: a change order cancels the changed lines while a line sent back by the buyer still waits.
    POStatus.REVISED: frozenset(
        {POStatus.ISSUED, POStatus.ACKNOWLEDGED, POStatus.CHANGES_PENDING, POStatus.REVISED, POStatus.CANCELLED}
    ),
    POStatus.CHANGES_PENDING: frozenset({POStatus.ISSUED, POStatus.ACKNOWLEDGED, POStatus.REVISED, POStatus.CANCELLED}),
    POStatus.ACKNOWLEDGED: frozenset(
        {POStatus.REVISED, POStatus.PARTIALLY_SHIPPED, POStatus.SHIPPED, POStatus.CLOSED, POStatus.CANCELLED}
    ),
    # Back to acknowledged or partially shipped: a shipment notice was cancelled before receipt.
    POStatus.PARTIALLY_SHIPPED: frozenset(
        {POStatus.ACKNOWLEDGED, POStatus.SHIPPED, POStatus.RECEIVED, POStatus.CLOSED}
    ),
    POStatus.SHIPPED: frozenset(
        {POStatus.ACKNOWLEDGED, POStatus.PARTIALLY_SHIPPED, POStatus.RECEIVED, POStatus.CLOSED}
    ),
    POStatus.RECEIVED: frozenset({POStatus.CLOSED}),
    POStatus.CLOSED: frozenset(),
    POStatus.CANCELLED: frozenset(),
}


class LineStatus(StatusMachine):
    ISSUED = "issued", "Awaiting acknowledgement"
    REVISED = "revised", "Changed by buyer"
    CHANGES_PENDING = "changes_pending", "Change pending buyer review"
    REJECTED = "rejected", "Rejected by supplier"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
    SHIPPED = "shipped", "Shipped"
    RECEIVED = "received", "Received"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"

    @classmethod
    def transitions(cls) -> dict[str, frozenset[str]]:
        return _LINE_TRANSITIONS


_ANSWERS = frozenset({LineStatus.ACKNOWLEDGED, LineStatus.CHANGES_PENDING, LineStatus.REJECTED})
_LINE_TRANSITIONS: dict[str, frozenset[str]] = {
    LineStatus.ISSUED: _ANSWERS | {LineStatus.REVISED, LineStatus.CANCELLED},
    LineStatus.REVISED: _ANSWERS | {LineStatus.REVISED, LineStatus.CANCELLED},
    # A buyer's decision: approve (acknowledged), send back for a new answer
    # (issued), or change the line (revised).
    LineStatus.CHANGES_PENDING: frozenset(
        {LineStatus.ACKNOWLEDGED, LineStatus.ISSUED, LineStatus.REVISED, LineStatus.CANCELLED}
    ),
    LineStatus.REJECTED: frozenset({LineStatus.ISSUED, LineStatus.REVISED, LineStatus.CANCELLED}),
    LineStatus.ACKNOWLEDGED: frozenset(
        {LineStatus.REVISED, LineStatus.PARTIALLY_SHIPPED, LineStatus.SHIPPED, LineStatus.CLOSED, LineStatus.CANCELLED}
    ),
    # Back to acknowledged or partially shipped: a shipment notice was cancelled before receipt.
    LineStatus.PARTIALLY_SHIPPED: frozenset(
        {LineStatus.ACKNOWLEDGED, LineStatus.SHIPPED, LineStatus.RECEIVED, LineStatus.CLOSED}
    ),
    LineStatus.SHIPPED: frozenset(
        {LineStatus.ACKNOWLEDGED, LineStatus.PARTIALLY_SHIPPED, LineStatus.RECEIVED, LineStatus.CLOSED}
    ),
    LineStatus.RECEIVED: frozenset({LineStatus.CLOSED}),
    LineStatus.CLOSED: frozenset(),
    LineStatus.CANCELLED: frozenset(),
}


class PurchaseOrderQuerySet(models.QuerySet["PurchaseOrder"]):
    def visible_to(self, user: User | AnonymousUser) -> PurchaseOrderQuerySet:
        """The tenant boundary: buyers see every PO, supplier users only their suppliers' POs."""
        if is_buyer(user):
            return self.all()
        if not user.is_authenticated or not user.is_active:
            return self.none()
        return self.filter(supplier_id__in=SupplierMembership.objects.supplier_ids_of(user))

    def awaiting_acknowledgement(self) -> PurchaseOrderQuerySet:
        return self.filter(status__in=PurchaseOrder.AWAITING_ACK_STATUSES)

    def acknowledgement_overdue(self, now: Any = None) -> PurchaseOrderQuerySet:
        return self.awaiting_acknowledgement().filter(acknowledgement_due__lt=now or timezone.now())

    def open(self) -> PurchaseOrderQuerySet:
        return self.exclude(status__in=PurchaseOrder.FINAL_STATUSES)

    def with_line_totals(self) -> PurchaseOrderQuerySet:
        """Line count and order value, as correlated subqueries.

        Subqueries (not GROUP BY) so PostgreSQL computes them only for the rows
        of the page it returns, whatever the size of the table.
        """
        lines = PurchaseOrderLine.objects.filter(po=OuterRef("pk")).order_by().values("po")
        value = ExpressionWrapper(F("ordered_quantity") * F("unit_price"), output_field=DecimalField())
        return self.annotate(
            line_count=Coalesce(Subquery(lines.annotate(n=Count("pk")).values("n")), 0),
            total_value=Coalesce(
                Subquery(lines.annotate(v=Sum(value)).values("v")),
                Decimal(0),
                output_field=DecimalField(max_digits=20, decimal_places=4),
            ),
        )


class PurchaseOrder(models.Model):
    number = models.CharField(max_length=30, unique=True)
    erp_id = models.CharField("ERP id", max_length=50, unique=True)
    revision = models.PositiveIntegerField(default=1, help_text="Raised by every ERP revision or buyer change order.")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="purchase_orders")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="purchase_orders")
    currency = models.CharField(max_length=3, default="USD", validators=[currency_validator])
    status = models.CharField(max_length=20, choices=POStatus.choices, default=POStatus.ISSUED)
    # Optimistic locking: every write of the PO or its lines raises it, and a
    # write that was prepared against an older version is refused.
    version = models.PositiveIntegerField(default=1)
    order_date = models.DateField()
    acknowledgement_due = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # Set once by the deadline sweep, so each reminder and overdue notice goes out once per deadline.
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    overdue_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PurchaseOrderQuerySet.as_manager()

    AWAITING_ACK_STATUSES = (POStatus.ISSUED, POStatus.REVISED)
    FINAL_STATUSES = (POStatus.CLOSED, POStatus.CANCELLED)
    # The order of the PO list, which keyset pagination relies on.
    LIST_ORDERING: ClassVar[tuple[str, ...]] = ("-order_date", "-id")

    class Meta:
        verbose_name = "purchase order"
        ordering = ["-order_date", "-id"]
        indexes = [
            # Serve the keyset-paginated list, for buyers (all POs) and for one supplier.
            models.Index(F("order_date").desc(), F("id").desc(), name="po_list_idx"),
            models.Index("supplier", F("order_date").desc(), F("id").desc(), name="po_supplier_list_idx"),
            # The API's list: one supplier's POs, most recently changed first (keyset pages, updated_since polls).
            models.Index("supplier", F("updated_at").desc(), F("id").desc(), name="po_supplier_updated_idx"),
            models.Index(fields=["supplier", "status"], name="po_supplier_status_idx"),
            models.Index(fields=["status", "acknowledgement_due"], name="po_status_ack_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(revision__gte=1), name="po_revision_positive"),
            models.CheckConstraint(condition=Q(version__gte=1), name="po_version_positive"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_awaiting_acknowledgement(self) -> bool:
        return self.status in self.AWAITING_ACK_STATUSES

    @property
    def is_acknowledgement_overdue(self) -> bool:
        return self.is_awaiting_acknowledgement and self.acknowledgement_due < timezone.now()

    def transition_to(self, new_status: str) -> None:
        """Move to a new status, or raise InvalidTransition; the caller saves."""
        POStatus.check(self.status, new_status, what=f"Purchase order {self.number}")
        self.status = new_status


class PurchaseOrderLine(models.Model):
    po = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    line_number = models.PositiveIntegerField()
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="po_lines")
    ordered_quantity = models.DecimalField(
        max_digits=14, decimal_places=3, validators=[MinValueValidator(Decimal("0.001"))]
    )
    unit_price = models.DecimalField(max_digits=14, decimal_places=4, validators=[MinValueValidator(Decimal(0))])
    need_by_date = models.DateField()
    status = models.CharField(max_length=20, choices=LineStatus.choices, default=LineStatus.ISSUED)
    # The first date the supplier promised, kept forever for delivery KPIs; later
    # promises live on the schedule lines and in the history.
    original_promised_date = models.DateField(null=True, blank=True)
    # What the last change order changed on this line, {field: [old, new]}, shown
    # to the supplier until the line is acknowledged again.
    revision_changes = models.JSONField(default=dict, blank=True)
    # The sum of the ERP's receipts of this line (purchasing.inbound.receipt_import).
    received_quantity = models.DecimalField(
        max_digits=14, decimal_places=3, default=Decimal(0), validators=[MinValueValidator(Decimal(0))]
    )
    # The sum over the line's active shipment notices (kept by purchasing.shipments under the PO's lock).
    shipped_quantity = models.DecimalField(
        max_digits=14, decimal_places=3, default=Decimal(0), validators=[MinValueValidator(Decimal(0))]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "PO line"
        ordering = ["po", "line_number"]
        constraints = [
            models.UniqueConstraint(fields=["po", "line_number"], name="po_line_number_unique"),
            models.CheckConstraint(condition=Q(ordered_quantity__gt=0), name="po_line_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="po_line_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.po.number}/{self.line_number}"

    @property
    def extended_value(self) -> Decimal:
        return self.ordered_quantity * self.unit_price

    @property
    def is_ready_for_accrual(self) -> bool:
        """Shipped per a shipment notice and not yet received: finance accrues the goods in transit."""
        return self.shipped_quantity > self.received_quantity

    @property
    def is_shippable(self) -> bool:
        return self.status in (LineStatus.ACKNOWLEDGED, LineStatus.PARTIALLY_SHIPPED, LineStatus.SHIPPED)

    @property
    def is_awaiting_answer(self) -> bool:
        return self.status in (LineStatus.ISSUED, LineStatus.REVISED)

    @property
    def is_open(self) -> bool:
        return self.status not in (LineStatus.RECEIVED, LineStatus.CLOSED, LineStatus.CANCELLED)

    def transition_to(self, new_status: str) -> None:
        LineStatus.check(self.status, new_status, what=f"Line {self.line_number}")
        self.status = new_status


class ScheduleLine(models.Model):
    """One delivery commitment of a PO line; a split line has several."""

    line = models.ForeignKey(PurchaseOrderLine, on_delete=models.CASCADE, related_name="schedule_lines")
    schedule_number = models.PositiveSmallIntegerField()
    quantity = models.DecimalField(max_digits=14, decimal_places=3, validators=[MinValueValidator(Decimal("0.001"))])
    promised_date = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["line", "schedule_number"]
        constraints = [
            models.UniqueConstraint(fields=["line", "schedule_number"], name="schedule_line_number_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="schedule_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.line}.{self.schedule_number}"


class ReasonCode(models.Model):
    """Why a supplier rejects a line: a list the buyers manage in the admin."""

    code = models.CharField(max_length=30, unique=True)
    label = models.CharField(max_length=120)
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.label


class Channel(models.TextChoices):
    WEB = "web", "Web"
    API = "api", "API"
    EDI = "edi", "EDI"
    CSV = "csv", "CSV"
    ERP = "erp", "ERP"
    SYSTEM = "system", "Supplyline"


class AcknowledgementQuerySet(models.QuerySet["Acknowledgement"]):
    def with_touchless(self) -> AcknowledgementQuerySet:
        """Only acknowledgements with lines, each marked ``touchless``: every line applied with no person
        (the KPIs' and the scorecards' touchless rate)."""
        lines = AcknowledgementLine.objects.filter(acknowledgement=OuterRef("pk"))
        return self.filter(Exists(lines)).annotate(
            touchless=~Exists(lines.exclude(outcome=AcknowledgementLine.Outcome.APPLIED))
        )


class Acknowledgement(models.Model):
    """A supplier's answer to one revision of a PO: one AcknowledgementLine per line answered."""

    po = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="acknowledgements")
    revision = models.PositiveIntegerField()
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="acknowledgements"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    note = models.TextField(blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)

    objects = AcknowledgementQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at", "-id"]
        # The KPIs' period filter (acknowledgement cycle time, touchless rate).
        indexes = [models.Index(fields=["submitted_at"], name="ack_submitted_idx")]

    def __str__(self) -> str:
        return f"Acknowledgement of {self.po.number} rev {self.revision}"


class AcknowledgementLine(models.Model):
    """The answer for one line. One outside tolerance, or a rejection, is a proposal for the buyer."""

    class Action(models.TextChoices):
        ACCEPT = "accept", "Accept"
        REJECT = "reject", "Reject"
        CHANGE = "change", "Change"

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        PENDING = "pending", "Pending buyer review"
        APPROVED = "approved", "Approved by buyer"
        DECLINED = "declined", "Declined by buyer"
        SUPERSEDED = "superseded", "Superseded by a change order"

    acknowledgement = models.ForeignKey(Acknowledgement, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(PurchaseOrderLine, on_delete=models.CASCADE, related_name="answers")
    action = models.CharField(max_length=10, choices=Action.choices)
    reason_code = models.ForeignKey(ReasonCode, on_delete=models.PROTECT, null=True, blank=True)
    note = models.TextField(blank=True)
    # The line as it was, and as the supplier proposes it (quantity, unit price,
    # deliveries as [{"quantity": "40", "date": "2026-12-01"}, ...]).
    before = models.JSONField()
    proposed = models.JSONField()
    breaches = models.JSONField(default=list, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["line__line_number"]
        indexes = [models.Index(fields=["outcome", "id"], name="ack_line_outcome_idx")]

    def __str__(self) -> str:
        return f"{self.line} {self.get_action_display()} ({self.get_outcome_display()})"


class HistoryEntry(models.Model):
    """One step of a PO's history timeline: who did what, when, through which channel."""

    po = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="history")
    line_number = models.PositiveIntegerField(null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    action = models.CharField(max_length=40)
    summary = models.TextField()
    changes = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "history entries"
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["po", "-at"], name="history_po_idx")]

    def __str__(self) -> str:
        return f"{self.po.number}: {self.summary}"


# --- inbound feeds: what the ERP and the planning system tell us -----------------------


class Receipt(models.Model):
    """The warehouse's confirmation of what arrived against one PO, from the ERP."""

    external_id = models.CharField("ERP id", max_length=50, unique=True)
    # No separate index on po: receipt_po_idx leads with it.
    po = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="receipts", db_index=False)
    # The shipment notice the ERP received it against, when it says so.
    shipment = models.ForeignKey(
        "purchasing.ShipmentNotice", on_delete=models.PROTECT, null=True, blank=True, related_name="receipts"
    )
    received_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["po", "-received_at"], name="receipt_po_idx")]

    def __str__(self) -> str:
        return f"Receipt {self.external_id} of {self.po.number}"


class ReceiptLine(models.Model):
    # No separate index on receipt: receipt_line_unique leads with it.
    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="lines", db_index=False)
    line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="receipt_lines")
    quantity = models.DecimalField(max_digits=14, decimal_places=3, validators=[MinValueValidator(Decimal(0))])
    closes_line = models.BooleanField(default=False, help_text="The ERP expects nothing more on this line.")

    class Meta:
        ordering = ["receipt", "line__line_number"]
        constraints = [
            models.UniqueConstraint(fields=["receipt", "line"], name="receipt_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="receipt_line_quantity_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.receipt.external_id}: {self.line} received {self.quantity}"


class InventoryBalance(models.Model):
    """On-hand quantity of an item at a site, as the ERP last reported it."""

    # No separate index on item: the unique (item, site) index leads with it.
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="inventory_balances", db_index=False)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="inventory_balances")
    # May be negative: ERPs book issues before the receipts that cover them.
    quantity = models.DecimalField(max_digits=14, decimal_places=3)
    as_of = models.DateTimeField(help_text="When the ERP counted it; an older report never overwrites a newer one.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["item", "site"]
        constraints = [models.UniqueConstraint(fields=["item", "site"], name="inventory_item_site_unique")]

    def __str__(self) -> str:
        return f"{self.item.sku} at {self.site.code}: {self.quantity}"


class DemandKind(models.TextChoices):
    FORECAST = "forecast", "Forecast"
    CUSTOMER_ORDER = "customer_order", "Customer order"


class Demand(models.Model):
    """A quantity of an item needed at a site on a date, from the planning system."""

    external_id = models.CharField(max_length=100, unique=True)
    # No separate index on item: demand_item_site_date_idx leads with it.
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="demands", db_index=False)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="demands")
    date = models.DateField()
    quantity = models.DecimalField(max_digits=14, decimal_places=3, validators=[MinValueValidator(Decimal("0.001"))])
    kind = models.CharField(max_length=20, choices=DemandKind.choices)
    priority = models.PositiveSmallIntegerField(default=5, validators=[MinValueValidator(1)], help_text="1 is highest.")
    customer_reference = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["item", "site", "date", "priority"]
        # The supply-risk projection reads one item's demand at one site up to a date.
        indexes = [models.Index(fields=["item", "site", "date"], name="demand_item_site_date_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="demand_quantity_positive"),
            models.CheckConstraint(condition=Q(priority__gte=1), name="demand_priority_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.item.sku} at {self.site.code} on {self.date}: {self.quantity} ({self.get_kind_display()})"


class SafetyStock(models.Model):
    """The on-hand quantity below which an item at a site is at risk, from the planning system."""

    # No separate index on item: the unique (item, site) index leads with it.
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="safety_stocks", db_index=False)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="safety_stocks")
    quantity = models.DecimalField(max_digits=14, decimal_places=3, validators=[MinValueValidator(Decimal(0))])
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "safety stock"
        ordering = ["item", "site"]
        constraints = [
            models.UniqueConstraint(fields=["item", "site"], name="safety_stock_item_site_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="safety_stock_not_negative"),
        ]

    def __str__(self) -> str:
        return f"Safety stock of {self.item.sku} at {self.site.code}: {self.quantity}"
