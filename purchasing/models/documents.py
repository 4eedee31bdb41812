"""B2B documents: every file a supplier sends us (CSV, Excel, X12, EDIFACT) and every one we send back."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from purchasing.models.orders import PurchaseOrder
from suppliers.models import Supplier


class DocumentFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel"
    X12 = "x12", "X12"
    EDIFACT = "edifact", "EDIFACT"


class DocumentKind(models.TextChoices):
    SHIP_NOTICE = "ship_notice", "Ship notice"
    ACKNOWLEDGEMENT = "acknowledgement", "PO acknowledgement"
    PURCHASE_ORDER = "purchase_order", "Purchase order"
    FUNCTIONAL_ACK = "functional_ack", "Functional acknowledgement"


class InboundDocument(models.Model):
    """One file as received, with what became of it: kept whole, accepted or not."""

    class Source(models.TextChoices):
        UPLOAD = "upload", "Portal upload"
        API = "api", "API"
        FOLDER = "folder", "Inbound folder"

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        DUPLICATE = "duplicate", "Duplicate (ignored)"

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="inbound_documents")
    source = models.CharField(max_length=10, choices=Source.choices)
    format = models.CharField(max_length=10, choices=DocumentFormat.choices)
    kind = models.CharField(max_length=20, choices=DocumentKind.choices, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    content = models.BinaryField()
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField("SHA-256", max_length=64)
    # The interchange's envelope (X12 ISA06/ISA13, EDIFACT UNB sender/0020); empty for CSV and Excel.
    sender_id = models.CharField(max_length=35, blank=True)
    control_number = models.CharField(max_length=14, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    # [{"message", "segment", "position", "element", "line", "row", "column"}], only the keys that apply.
    errors = models.JSONField(default=list, blank=True)
    # What it created: {"shipments": ["ASN-1", ...], "acknowledgements": [{"po_number", "id"}], ...}.
    outcome = models.JSONField(default=dict, blank=True)
    duplicate_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            # The same interchange (sender and control number) is applied once; a rejected one may be
            # corrected and sent again under its number.
            models.UniqueConstraint(
                fields=["supplier", "format", "sender_id", "control_number"],
                condition=Q(status="accepted") & ~Q(control_number=""),
                name="document_interchange_applied_once",
            )
        ]
        indexes = [
            # The list pages: one supplier's documents, and a buyer's view of every supplier's.
            models.Index(F("supplier"), F("received_at").desc(), F("id").desc(), name="document_supplier_list_idx"),
            models.Index(F("received_at").desc(), F("id").desc(), name="document_list_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_format_display()} {self.filename or self.pk} from {self.supplier.code}"


class OutboundDocument(models.Model):
    """A document we generated for a supplier: a functional acknowledgement, or a PO as 850/ORDERS."""

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="outbound_documents")
    format = models.CharField(max_length=10, choices=DocumentFormat.choices)
    kind = models.CharField(max_length=20, choices=DocumentKind.choices)
    filename = models.CharField(max_length=255)
    content = models.BinaryField()
    control_number = models.CharField(max_length=14)
    in_reply_to = models.ForeignKey(
        InboundDocument, on_delete=models.CASCADE, null=True, blank=True, related_name="replies"
    )
    po = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, null=True, blank=True, related_name="edi_documents")
    po_revision = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One 850/ORDERS per PO revision, however often the sending task runs.
            models.UniqueConstraint(fields=["po", "po_revision", "format"], name="outbound_po_revision_once"),
        ]
        indexes = [
            models.Index(F("supplier"), F("created_at").desc(), F("id").desc(), name="outbound_supplier_list_idx"),
        ]

    def __str__(self) -> str:
        return self.filename
