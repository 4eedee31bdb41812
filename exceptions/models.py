"""Exception cases: something a buyer must look at, raised and cleared by rules (``exceptions.rules``).

A case names the condition that raised it with a dedupe key (``ack_overdue:PO-100001``); at most one
case per key is unresolved at a time, so a rule that fires again updates the open case instead of
opening a second. Every change to a case is kept as an activity, so its history says who did what.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from suppliers.models import User, is_buyer


class CaseType(models.TextChoices):
    ACK_OVERDUE = "ack_overdue", "Acknowledgement overdue"
    PROPOSAL_OVERDUE = "proposal_overdue", "Proposal awaiting review"
    PROMISE_AFTER_NEED = "promise_after_need", "Promised after need-by"
    QUANTITY_SHORT = "quantity_short", "Quantity short"
    PRICE_OUT_OF_TOLERANCE = "price_out_of_tolerance", "Price beyond tolerance"
    ASN_LATE = "asn_late", "Shipment notice late"
    ASN_MISMATCH = "asn_mismatch", "Shipment notice differs from PO"
    SHIPMENT_NOT_RECEIVED = "shipment_not_received", "Shipment not received"
    DELIVERY_DEAD = "delivery_dead", "Sync failed (dead letter)"
    SUPPLY_RISK = "supply_risk", "Supply risk"
    ERP_MANUAL_CHANGE = "erp_manual_change", "Change to make in the ERP"
    COMPLIANCE_EXPIRED = "compliance_expired", "Compliance document expired"
    TERMS_PROPOSAL_OVERDUE = "terms_proposal_overdue", "Item terms awaiting review"


class Severity(models.IntegerChoices):
    """Lower is more urgent, so ordering by severity puts the worst first."""

    CRITICAL = 1, "Critical"
    HIGH = 2, "High"
    MEDIUM = 3, "Medium"
    LOW = 4, "Low"


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    SNOOZED = "snoozed", "Snoozed"
    RESOLVED = "resolved", "Resolved"


UNRESOLVED = (CaseStatus.OPEN, CaseStatus.IN_PROGRESS, CaseStatus.SNOOZED)


class ResolutionCode(models.TextChoices):
    CLEARED = "cleared", "Condition cleared"
    SUPPLIER_FIXED = "supplier_fixed", "Supplier corrected it"
    ACCEPTED = "accepted", "Accepted as is"
    EXPEDITED = "expedited", "Expedited"
    RESOURCED = "resourced", "Sourced elsewhere"
    DEMAND_CHANGED = "demand_changed", "Demand or plan changed"
    REPLAYED = "replayed", "Replayed or fixed in the target system"
    NOT_AN_ISSUE = "not_an_issue", "Not an issue"


# The codes a person may choose; CLEARED is the rules' own, when the condition goes away.
MANUAL_RESOLUTION_CODES = [(code, label) for code, label in ResolutionCode.choices if code != ResolutionCode.CLEARED]


class ExceptionCaseQuerySet(models.QuerySet["ExceptionCase"]):
    def visible_to(self, user: User) -> ExceptionCaseQuerySet:
        """The queue is the distributor's: buyers see every case, nobody else sees any."""
        return self.all() if is_buyer(user) else self.none()

    def unresolved(self) -> ExceptionCaseQuerySet:
        return self.filter(status__in=UNRESOLVED)


class ExceptionCase(models.Model):
    type = models.CharField(max_length=30, choices=CaseType.choices)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.MEDIUM)
    status = models.CharField(max_length=12, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    dedupe_key = models.CharField(max_length=200, help_text="Names the condition; at most one unresolved case per key.")
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True, help_text="What the rule found, in a sentence or two.")
    # What the case concerns; each is optional, the rule sets what it knows.
    supplier = models.ForeignKey(
        "suppliers.Supplier", on_delete=models.PROTECT, null=True, blank=True, related_name="exception_cases"
    )
    po = models.ForeignKey(
        "purchasing.PurchaseOrder", on_delete=models.CASCADE, null=True, blank=True, related_name="exception_cases"
    )
    po_line = models.ForeignKey(
        "purchasing.PurchaseOrderLine",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="exception_cases",
        verbose_name="PO line",
    )
    shipment = models.ForeignKey(
        "purchasing.ShipmentNotice",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="exception_cases",
        verbose_name="ASN",
    )
    delivery = models.ForeignKey(
        "planning_sync.Delivery", on_delete=models.SET_NULL, null=True, blank=True, related_name="exception_cases"
    )
    item = models.ForeignKey(
        "purchasing.Item", on_delete=models.PROTECT, null=True, blank=True, related_name="exception_cases"
    )
    site = models.ForeignKey(
        "purchasing.Site", on_delete=models.PROTECT, null=True, blank=True, related_name="exception_cases"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_cases"
    )
    due_at = models.DateTimeField("SLA due", help_text="When the case should be resolved by.")
    snoozed_until = models.DateTimeField(null=True, blank=True)
    resolution_code = models.CharField(max_length=20, choices=ResolutionCode.choices, blank=True)
    resolution_note = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Rule-specific facts: the quantities and dates compared, the demand at risk, alternatives...
    details = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[ExceptionCaseQuerySet] = ExceptionCaseQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["severity", "due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=Q(status__in=["open", "in_progress", "snoozed"]),
                name="case_one_unresolved_per_key",
            ),
            models.CheckConstraint(
                condition=Q(status="resolved", resolved_at__isnull=False) | ~Q(status="resolved"),
                name="case_resolved_has_time",
            ),
        ]
        indexes = [
            # The queue: unresolved cases, worst and most urgent first.
            models.Index(
                fields=["severity", "due_at", "id"],
                name="case_queue_idx",
                condition=Q(status__in=["open", "in_progress", "snoozed"]),
            ),
            models.Index(fields=["assignee", "status"], name="case_assignee_idx"),
            models.Index(fields=["type", "opened_at"], name="case_type_opened_idx"),
            models.Index(fields=["supplier", "status"], name="case_supplier_idx"),
            models.Index(fields=["item", "site", "status"], name="case_item_site_idx"),
            models.Index(fields=["resolved_at"], name="case_resolved_idx", condition=Q(status="resolved")),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_type_display()}: {self.title}"

    @property
    def is_resolved(self) -> bool:
        return self.status == CaseStatus.RESOLVED

    def is_overdue(self, now: dt.datetime | None = None) -> bool:
        return not self.is_resolved and self.due_at <= (now or timezone.now())

    def time_left(self, now: dt.datetime | None = None) -> dt.timedelta:
        """Until the SLA is due; negative once overdue."""
        return self.due_at - (now or timezone.now())


class CaseActivity(models.Model):
    """One thing that happened to a case. Written by the services only, never changed."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        UPDATED = "updated", "Updated by its rule"
        CLAIMED = "claimed", "Claimed"
        ASSIGNED = "assigned", "Assigned"
        COMMENTED = "commented", "Commented"
        SNOOZED = "snoozed", "Snoozed"
        WOKE = "woke", "Snooze ended"
        RESOLVED = "resolved", "Resolved"
        CLEARED = "cleared", "Resolved itself"
        ACTION = "action", "Action taken"

    case = models.ForeignKey(ExceptionCase, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "case activities"
        indexes = [models.Index(fields=["case", "at"], name="case_activity_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.at:%Y-%m-%d %H:%M})"


class RuleSetting(models.Model):
    """A rule's thresholds and SLA: a default row per rule, overridable per supplier, site or both.

    The most specific row wins (supplier and site, then supplier, then site, then the default);
    a field left empty on an override takes the next row's value, and the built-in defaults
    (``exceptions.thresholds.DEFAULTS``) stand in for a rule nobody configured.
    """

    rule = models.CharField(max_length=30, choices=CaseType.choices)
    supplier = models.ForeignKey(
        "suppliers.Supplier", on_delete=models.CASCADE, null=True, blank=True, related_name="rule_settings"
    )
    site = models.ForeignKey(
        "purchasing.Site", on_delete=models.CASCADE, null=True, blank=True, related_name="rule_settings"
    )
    is_enabled = models.BooleanField(null=True, blank=True, help_text="Empty: as the less specific setting.")
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, null=True, blank=True)
    sla_hours = models.PositiveIntegerField(
        "SLA (hours)", null=True, blank=True, validators=[MinValueValidator(1)], help_text="Time to resolve a case."
    )
    threshold = models.DecimalField(
        max_digits=12,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="The rule's own measure: see its description.",
    )
    grace_days = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Days allowed before it fires.")

    class Meta:
        ordering = ["rule", "supplier", "site"]
        constraints = [
            # One row per rule and scope, "no supplier" and "no site" included (NULLs are distinct in a
            # plain unique constraint, and SQLite has no NULLS NOT DISTINCT).
            models.UniqueConstraint("rule", Coalesce("supplier", 0), Coalesce("site", 0), name="rule_setting_unique"),
        ]

    def __str__(self) -> str:
        scope = " / ".join(str(x) for x in (self.supplier, self.site) if x) or "default"
        return f"{self.get_rule_display()} ({scope})"


class ProjectionSnapshot(models.Model):
    """The last projection of an item at a site (``exceptions.supply_risk``).

    Kept so that the next recompute can tell what a change made worse: a supply-risk case opens only
    for a breach at a date where this projection had none.
    """

    # No separate index on item: the unique (item, site) constraint leads with it.
    item = models.ForeignKey("purchasing.Item", on_delete=models.CASCADE, related_name="+", db_index=False)
    site = models.ForeignKey("purchasing.Site", on_delete=models.CASCADE, related_name="+")
    start = models.DateField(help_text="The first day of the projection.")
    on_hand = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal(0))
    safety_stock = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal(0))
    # The closing balance of each day from ``start``, as decimal strings; empty until first computed.
    balances = models.JSONField(default=list, blank=True)
    first_below_safety = models.DateField(null=True, blank=True)
    first_below_zero = models.DateField(null=True, blank=True)
    shortfall = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal(0))
    days_short = models.PositiveSmallIntegerField(default=0)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["item", "site"]
        constraints = [models.UniqueConstraint(fields=["item", "site"], name="projection_item_site_unique")]

    def __str__(self) -> str:
        return f"Projection of item {self.item_id} at site {self.site_id} from {self.start}"

    @property
    def balance_values(self) -> list[Decimal]:
        return [Decimal(value) for value in self.balances]
