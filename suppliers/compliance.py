"""Compliance documents: suppliers upload certificates, buyers review them, time makes them expire.

Services (every write) and selectors (the reads of the pages) in one module, small enough not to split.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from config import uploads
from exceptions.models import CaseType
from exceptions.services import Concern, Finding, case_clear, case_raise, cases_clear_except
from suppliers.models import (
    COMPLIANCE_EXTENSIONS,
    ComplianceDocument,
    ComplianceDocumentType,
    Supplier,
    SupplierMembership,
    User,
)
from suppliers.services import email_enqueue

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
REMINDER_DAYS = (30, 7)
CASE_PREFIX = f"{CaseType.COMPLIANCE_EXPIRED}:"

# How each accepted type's content starts, what it is called, and the file name extensions it may have.
MAGIC = {
    "application/pdf": (b"%PDF-", "PDF", (".pdf",)),
    "image/png": (b"\x89PNG\r\n\x1a\n", "PNG", (".png",)),
    "image/jpeg": (b"\xff\xd8\xff", "JPEG", (".jpg", ".jpeg")),
}


def max_upload_bytes() -> int:
    return int(getattr(settings, "SUPPLYLINE_COMPLIANCE_MAX_BYTES", DEFAULT_MAX_BYTES))


def _content_type_of(file: UploadedFile[bytes]) -> str:
    """The type the file's name claims, confirmed by its first bytes; ValidationError on ``file`` otherwise."""
    uploads.check_size(file.size or 0, max_upload_bytes())
    extension = uploads.extension_of(file.name or "")
    claimed = next((ctype for ctype, (_, _, exts) in MAGIC.items() if extension in exts), None)
    if claimed is None:
        raise uploads.refuse("Upload a PDF, PNG or JPEG file (.pdf, .png, .jpg or .jpeg).")
    file.seek(0)
    head = file.read(512)
    file.seek(0)
    magic, label, _ = MAGIC[claimed]
    uploads.check_signature(head, magic=magic, label=label)
    return claimed


@transaction.atomic
def compliance_document_upload(
    *,
    supplier: Supplier,
    document_type: ComplianceDocumentType,
    file: UploadedFile[bytes],
    valid_from: dt.date,
    valid_to: dt.date,
    by: User | None,
) -> ComplianceDocument:
    """Store a supplier's document for review. Checks everything before writing, so a refusal stores nothing.

    Raises ``config.uploads.FileTooLarge`` (a ValidationError) over the size limit, ValidationError for anything
    else (config/uploads.py checks the file).
    """
    content_type = _content_type_of(file)
    if not document_type.is_active:
        raise ValidationError({"document_type": "This document type no longer takes uploads."})
    if valid_to <= valid_from:
        raise ValidationError({"valid_to": "The valid-to date must be after the valid-from date."})
    document = ComplianceDocument(
        supplier=supplier,
        document_type=document_type,
        filename=uploads.safe_filename(file.name or "", "document"),
        content_type=content_type,
        size=file.size or 0,
        valid_from=valid_from,
        valid_to=valid_to,
        uploaded_by=by,
    )
    # The file is stored first (the row holds its random name); if the insert then fails, the file goes too.
    document.file.save(COMPLIANCE_EXTENSIONS[content_type], file, save=False)
    try:
        document.save(force_insert=True)
    except Exception:
        document.file.delete(save=False)
        raise
    return document


@transaction.atomic
def compliance_document_review(
    *, document: ComplianceDocument, by: User, approve: bool, reason: str = ""
) -> ComplianceDocument:
    """Approve or reject a document awaiting review; a rejection needs a reason.

    The conditional update makes two buyers deciding at once safe: the second is told it was decided.
    An approval of a document in force today clears the supplier's expiry case for that type.
    """
    reason = reason.strip()
    if not approve and not reason:
        raise ValidationError({"reason": "Say why the document is rejected, so the supplier can fix it."})
    status = ComplianceDocument.Status.APPROVED if approve else ComplianceDocument.Status.REJECTED
    updated = ComplianceDocument.objects.filter(pk=document.pk, status=ComplianceDocument.Status.PENDING).update(
        status=status, reviewed_by=by, reviewed_at=timezone.now(), rejection_reason="" if approve else reason
    )
    if updated != 1:
        raise ValidationError("This document was already reviewed.")
    document.refresh_from_db(fields=["status", "reviewed_by", "reviewed_at", "rejection_reason"])
    today = timezone.localdate()
    if approve and document.valid_from <= today <= document.valid_to:
        case_clear(
            _case_key(document.supplier_id, document.document_type_id),
            note=f"A valid {document.document_type.name} was approved.",
        )
    return document


def _case_key(supplier_id: int, type_id: int) -> str:
    return f"{CASE_PREFIX}{supplier_id}:{type_id}"


def compliance_reminders_send(*, today: dt.date | None = None) -> int:
    """E-mail each supplier's admins about approved documents expiring in 30 and in 7 days; returns mails queued.

    Each reminder is claimed by a conditional update of its ``reminded_*_at`` column before the mail is
    queued, so a rerun of the day (or two workers) sends nothing twice. A document with an approved
    successor that is valid past its end gets no reminder: the supplier already renewed it.
    """
    today = today or timezone.localdate()
    sent = 0
    successor = ComplianceDocument.objects.filter(
        supplier_id=OuterRef("supplier_id"),
        document_type_id=OuterRef("document_type_id"),
        status=ComplianceDocument.Status.APPROVED,
        valid_to__gt=OuterRef("valid_to"),
    )
    for days, column, lower in ((30, "reminded_30_at", 7), (7, "reminded_7_at", -1)):
        due = (
            ComplianceDocument.objects.filter(
                status=ComplianceDocument.Status.APPROVED,
                valid_to__lte=today + dt.timedelta(days=days),
                valid_to__gt=today + dt.timedelta(days=lower),
                **{f"{column}__isnull": True},
            )
            .exclude(Exists(successor))
            .select_related("supplier", "document_type")
        )
        for document in due:
            with transaction.atomic():
                claimed = ComplianceDocument.objects.filter(pk=document.pk, **{f"{column}__isnull": True}).update(
                    **{column: timezone.now()}
                )
                if claimed and _remind(document, today=today):
                    sent += 1
    return sent


def _remind(document: ComplianceDocument, *, today: dt.date) -> bool:
    recipients = list(
        SupplierMembership.objects.active()
        .filter(supplier_id=document.supplier_id, role=SupplierMembership.Role.ADMIN, user__is_active=True)
        .values_list("user__email", flat=True)
    )
    if not recipients:
        return False
    context = {"document": document, "days_left": (document.valid_to - today).days}
    email_enqueue(
        EmailMessage(
            subject=f"Your {document.document_type.name} expires on {document.valid_to:%Y-%m-%d}",
            body=render_to_string("suppliers/compliance_reminder_email.txt", context),
            to=recipients,
        )
    )
    return True


def compliance_expiry_sweep(*, today: dt.date | None = None) -> int:
    """Open a case for each supplier whose required document expired with no valid approved one in force;
    clear the cases whose supplier has one again (or whose type is no longer required). Returns cases raised.
    """
    today = today or timezone.localdate()
    current = ComplianceDocument.objects.valid_on(today).filter(
        supplier_id=OuterRef("supplier_id"), document_type_id=OuterRef("document_type_id")
    )
    expired = (
        ComplianceDocument.objects.filter(
            status=ComplianceDocument.Status.APPROVED,
            valid_to__lt=today,
            document_type__is_required=True,
            document_type__is_active=True,
            supplier__status__in=Supplier.ACCESS_STATUSES,
        )
        .exclude(Exists(current))
        .order_by("supplier_id", "document_type_id", "-valid_to")
        .distinct("supplier_id", "document_type_id")
        .select_related("supplier", "document_type")
    )
    keys = []
    for document in expired:
        key = _case_key(document.supplier_id, document.document_type_id)
        keys.append(key)
        case_raise(
            Finding(
                type=CaseType.COMPLIANCE_EXPIRED,
                key=key,
                title=f"{document.supplier.code}: {document.document_type.name} expired",
                summary=f"The supplier's {document.document_type.name} expired on {document.valid_to:%Y-%m-%d} "
                "and no valid approved replacement is on file.",
                concern=Concern(supplier=document.supplier),
                details={"document_type": document.document_type.name, "expired_on": document.valid_to.isoformat()},
            )
        )
    cases_clear_except(
        type=CaseType.COMPLIANCE_EXPIRED,
        prefix=CASE_PREFIX,
        keep=keys,
        note="A valid approved document is on file, or the type is no longer required.",
    )
    return len(keys)


def compliance_daily(*, today: dt.date | None = None) -> None:
    """The daily run: reminders, then expiry cases."""
    compliance_reminders_send(today=today)
    compliance_expiry_sweep(today=today)


# --- Selectors ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeStatus:
    """Where a supplier stands on one document type."""

    document_type: ComplianceDocumentType
    current: ComplianceDocument | None  # the approved document in force today
    state: str  # valid, expiring, pending, expired, missing

    @property
    def needs_attention(self) -> bool:
        return self.document_type.is_required and self.state in ("missing", "expired", "pending")


def compliance_status(
    *,
    supplier: Supplier,
    documents: list[ComplianceDocument],
    types: list[ComplianceDocumentType],
    today: dt.date,
) -> list[TypeStatus]:
    """Per type, the supplier's standing, from documents and types already read: no queries."""
    rows = []
    for document_type in types:
        own = [d for d in documents if d.document_type_id == document_type.pk and d.supplier_id == supplier.pk]
        in_force = [
            d for d in own if d.status == ComplianceDocument.Status.APPROVED and d.valid_from <= today <= d.valid_to
        ]
        current = max(in_force, key=lambda d: d.valid_to, default=None)
        rows.append(TypeStatus(document_type, current, _state(own, current, today)))
    return rows


def _state(own: list[ComplianceDocument], current: ComplianceDocument | None, today: dt.date) -> str:
    if current is not None:
        return "expiring" if current.valid_to <= today + dt.timedelta(days=REMINDER_DAYS[0]) else "valid"
    if any(d.status == ComplianceDocument.Status.PENDING for d in own):
        return "pending"
    if any(d.status == ComplianceDocument.Status.APPROVED and d.valid_to < today for d in own):
        return "expired"
    return "missing"


def compliance_review_queue() -> QuerySet[ComplianceDocument]:
    """Documents awaiting a buyer, oldest first (ordering for keyset pages: REVIEW_ORDERING)."""
    return ComplianceDocument.objects.filter(status=ComplianceDocument.Status.PENDING).select_related(
        "supplier", "document_type", "uploaded_by"
    )


REVIEW_ORDERING = ("uploaded_at", "id")
