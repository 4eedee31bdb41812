"""Shipment notices (ASNs): what a supplier shipped, in which packages, against which PO lines."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from purchasing.models.orders import Channel, PurchaseOrderLine, Site, StatusMachine
from suppliers.models import Supplier, SupplierMembership, User, is_buyer

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

asn_number_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,29}$",
    "Use up to 30 letters, digits, dots, dashes or slashes, starting with a letter or digit.",
)
scac_validator = RegexValidator(r"^[A-Z]{2,4}$", "A SCAC code is 2 to 4 capital letters, e.g. UPSN.")
sscc_validator = RegexValidator(r"^[0-9]{18}$", "An SSCC is 18 digits.")


class ShipmentStatus(StatusMachine):
    SUBMITTED = "submitted", "Submitted"
    IN_TRANSIT = "in_transit", "In transit"
    RECEIVED = "received", "Received"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"
    REPLACED = "replaced", "Replaced"

    @classmethod
    def transitions(cls) -> dict[str, frozenset[str]]:
        return _SHIPMENT_TRANSITIONS


# Cancel and replace only before the warehouse received anything (received and closed are final for
# the supplier); a receipt may come before the ship date was reached (submitted -> received).
_SHIPMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    ShipmentStatus.SUBMITTED: frozenset(
        {
            ShipmentStatus.IN_TRANSIT,
            ShipmentStatus.RECEIVED,
            ShipmentStatus.CLOSED,
            ShipmentStatus.CANCELLED,
            ShipmentStatus.REPLACED,
        }
    ),
    ShipmentStatus.IN_TRANSIT: frozenset(
        {ShipmentStatus.RECEIVED, ShipmentStatus.CLOSED, ShipmentStatus.CANCELLED, ShipmentStatus.REPLACED}
    ),
    ShipmentStatus.RECEIVED: frozenset({ShipmentStatus.CLOSED}),
    ShipmentStatus.CLOSED: frozenset(),
    ShipmentStatus.CANCELLED: frozenset(),
    ShipmentStatus.REPLACED: frozenset(),
}


class ShipmentNoticeQuerySet(models.QuerySet["ShipmentNotice"]):
    def visible_to(self, user: User | AnonymousUser) -> ShipmentNoticeQuerySet:
        """The tenant boundary: buyers see every notice, supplier users only their suppliers' ones."""
        if is_buyer(user):
            return self.all()
        if not user.is_authenticated or not user.is_active:
            return self.none()
        return self.filter(supplier_id__in=SupplierMembership.objects.supplier_ids_of(user))

    def active(self) -> ShipmentNoticeQuerySet:
        """Notices that still count: neither cancelled nor replaced by a newer one."""
        return self.exclude(status__in=ShipmentNotice.INACTIVE_STATUSES)


class ShipmentNotice(models.Model):
    """An advance shipment notice (ASN): one shipment to one ship-to site, covering lines of one or more POs."""

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="shipment_notices")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="shipment_notices")
    number = models.CharField("ASN number", max_length=30, validators=[asn_number_validator])
    status = models.CharField(max_length=12, choices=ShipmentStatus.choices, default=ShipmentStatus.SUBMITTED)
    ship_date = models.DateField()
    estimated_arrival = models.DateField(null=True, blank=True)
    carrier_scac = models.CharField("carrier SCAC", max_length=4, blank=True, validators=[scac_validator])
    carrier_name = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=50, blank=True)
    bill_of_lading = models.CharField(max_length=50, blank=True)
    ship_from = models.TextField(blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    replaces = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaced_by")
    document = models.ForeignKey(
        "purchasing.InboundDocument", on_delete=models.SET_NULL, null=True, blank=True, related_name="shipments"
    )
    received_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ShipmentNoticeQuerySet.as_manager()

    INACTIVE_STATUSES = (ShipmentStatus.CANCELLED, ShipmentStatus.REPLACED)
    CHANGEABLE_STATUSES = (ShipmentStatus.SUBMITTED, ShipmentStatus.IN_TRANSIT)

    class Meta:
        verbose_name = "shipment notice"
        ordering = ["-submitted_at", "-id"]
        constraints = [
            # A replacement keeps its number, so only the notice it replaced may share it.
            models.UniqueConstraint(
                fields=["supplier", "number"],
                condition=~Q(status="replaced"),
                name="asn_number_unique_per_supplier",
            ),
            models.CheckConstraint(
                condition=Q(estimated_arrival__isnull=True) | Q(estimated_arrival__gte=F("ship_date")),
                name="asn_arrival_not_before_ship_date",
            ),
        ]
        indexes = [
            models.Index(F("supplier"), F("submitted_at").desc(), F("id").desc(), name="asn_supplier_list_idx"),
            models.Index(F("submitted_at").desc(), F("id").desc(), name="asn_list_idx"),
            # The expected-receipts page: open notices of a site by arrival day.
            models.Index(fields=["site", "estimated_arrival"], name="asn_site_arrival_idx"),
            # The KPIs' period filters: on-time shipment by ship date, ASN accuracy by receipt.
            models.Index(fields=["ship_date"], name="asn_ship_date_idx"),
            models.Index(fields=["received_at"], name="asn_received_idx", condition=Q(received_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"ASN {self.number}"

    @property
    def is_changeable(self) -> bool:
        """Cancel or replace is allowed until the warehouse has received anything."""
        return self.status in self.CHANGEABLE_STATUSES

    def transition_to(self, new_status: str) -> None:
        ShipmentStatus.check(self.status, new_status, what=f"ASN {self.number}")
        self.status = new_status


class ShipmentPackage(models.Model):
    """A pallet, carton or other package of a shipment, with its SSCC; packages nest to any depth."""

    class Kind(models.TextChoices):
        PALLET = "pallet", "Pallet"
        CARTON = "carton", "Carton"
        PACKAGE = "package", "Package"

    shipment = models.ForeignKey(ShipmentNotice, on_delete=models.CASCADE, related_name="packages")
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CARTON)
    sscc = models.CharField("SSCC", max_length=18, validators=[sscc_validator])
    position = models.PositiveSmallIntegerField(help_text="Order of the package in the notice, from 1.")

    class Meta:
        ordering = ["shipment", "position"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "sscc"], name="package_sscc_unique_per_asn"),
            models.UniqueConstraint(fields=["shipment", "position"], name="package_position_unique"),
        ]
        # An SSCC may be on one active notice only: checked by the service with this index.
        indexes = [models.Index(fields=["sscc"], name="package_sscc_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.sscc}"


class ShipmentLine(models.Model):
    """A quantity of one PO line in a shipment, in the innermost package that holds it (or loose)."""

    shipment = models.ForeignKey(ShipmentNotice, on_delete=models.CASCADE, related_name="lines")
    package = models.ForeignKey(ShipmentPackage, on_delete=models.CASCADE, null=True, blank=True, related_name="lines")
    po_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="shipment_lines")
    position = models.PositiveSmallIntegerField(help_text="Order of the line in the notice, from 1.")
    quantity = models.DecimalField(max_digits=14, decimal_places=3, validators=[MinValueValidator(Decimal("0.001"))])
    lot_number = models.CharField("lot or batch", max_length=40, blank=True)
    expiry_date = models.DateField(null=True, blank=True)
    # What the ERP's receipts allotted to this line (None until any receipt covers it).
    received_quantity = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)

    class Meta:
        ordering = ["shipment", "position"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "position"], name="shipment_line_position_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="shipment_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.shipment.number}/{self.position}: {self.po_line} x {self.quantity}"

    @property
    def variance(self) -> Decimal | None:
        """Received minus shipped, once received (negative: short; positive: over)."""
        return None if self.received_quantity is None else self.received_quantity - self.quantity
