"""What we send suppliers' EDI systems: functional acknowledgements and purchase orders.

Every X12 interchange we receive is answered with a 997 and every EDIFACT one with a CONTRL,
accepted or rejected, as soon as it is read. An EDI supplier (``Supplier.edi_standard``) gets each
PO revision as an 850 or ORDERS, once per revision. Each is stored as an ``OutboundDocument``
(downloadable in the portal) and, for suppliers with a drop folder, written to its outbound folder.
Our control numbers are the stored document's id, so they never repeat.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from purchasing.documents import edifact, x12
from purchasing.documents.paths import has_drop_folder, write_outbound
from purchasing.documents.shapes import DocumentFormat, DocumentKind, Location, ParsedDocument, Problem
from purchasing.models import InboundDocument, OutboundDocument, PurchaseOrder

logger = logging.getLogger("supplyline.documents")
CONTROL_NUMBER_MODULUS = 10**9  # X12 ISA13 has 9 digits; EDIFACT allows 14


def answer(document: InboundDocument, parsed: ParsedDocument | None) -> OutboundDocument | None:
    """The 997 or CONTRL for an EDI document whose envelope could be read (None for CSV and Excel,
    and for files so broken that no sender or control number is known)."""
    if document.format not in (DocumentFormat.X12, DocumentFormat.EDIFACT) or parsed is None:
        return None
    if not parsed.control_number:
        return None
    accepted = document.status != InboundDocument.Status.REJECTED
    problems = [_problem(error) for error in document.errors] if not accepted else []
    reply = OutboundDocument.objects.create(
        supplier=document.supplier,
        format=document.format,
        kind=DocumentKind.FUNCTIONAL_ACK,
        filename="",
        content=b"",
        control_number="",
        in_reply_to=document,
    )
    number = reply.pk % CONTROL_NUMBER_MODULUS
    identities = settings.SUPPLYLINE_EDI
    if document.format == DocumentFormat.X12:
        content = x12.functional_ack_997(
            parsed,
            accepted=accepted,
            problems=problems,
            sender_qualifier=identities["x12_qualifier"],
            sender_id=identities["x12_id"],
            control_number=number,
        )
        name = f"997-{number:09d}.x12"
    else:
        content = edifact.contrl(
            parsed,
            accepted=accepted,
            problems=problems,
            sender_id=identities["edifact_id"],
            sender_qualifier=identities["edifact_qualifier"],
            control_number=number,
        )
        name = f"CONTRL-{number}.edi"
    _finish(reply, name, content, number)
    _drop(document.source, reply)
    return reply


def _problem(error: dict[str, object]) -> Problem:
    position = error.get("position")
    element = error.get("element")
    location = Location(
        segment=str(error.get("segment") or ""),
        position=position if isinstance(position, int) else None,
        element=element if isinstance(element, int) else None,
    )
    return Problem(str(error.get("message", "")), location)


def purchase_order_send(po: PurchaseOrder) -> OutboundDocument | None:
    """The PO's current revision as an 850 or ORDERS for an EDI supplier; once per revision (safe to call again)."""
    supplier = po.supplier
    if supplier.edi_standard not in (DocumentFormat.X12, DocumentFormat.EDIFACT):
        return None
    existing = OutboundDocument.objects.filter(po=po, po_revision=po.revision, format=supplier.edi_standard).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            document = _purchase_order_document(po)
    except IntegrityError:  # another worker sent this revision a moment ago
        return OutboundDocument.objects.get(po=po, po_revision=po.revision, format=supplier.edi_standard)
    _write_to_folder(document)
    logger.info("purchase order sent", extra={"po_number": po.number, "document": document.filename})
    return document


def purchase_orders_unsent_sweep(*, limit: int = 500) -> int:
    """Send what a lost task message left unsent: open POs of EDI suppliers without a document for their revision."""
    sent = OutboundDocument.objects.filter(
        po=OuterRef("pk"), po_revision=OuterRef("revision"), format=OuterRef("supplier__edi_standard")
    )
    unsent = (
        PurchaseOrder.objects.open()
        .exclude(supplier__edi_standard="")
        .filter(~Exists(sent))
        .select_related("supplier")
        .order_by("pk")[:limit]
    )
    return sum(purchase_order_send(po) is not None for po in unsent)


def _purchase_order_document(po: PurchaseOrder) -> OutboundDocument:
    supplier = po.supplier
    document = OutboundDocument.objects.create(
        supplier=supplier,
        format=supplier.edi_standard,
        kind=DocumentKind.PURCHASE_ORDER,
        filename="",
        content=b"",
        control_number="",
        po=po,
        po_revision=po.revision,
    )
    number = document.pk % CONTROL_NUMBER_MODULUS
    identities = settings.SUPPLYLINE_EDI
    po = PurchaseOrder.objects.select_related("site", "supplier").prefetch_related("lines__item").get(pk=po.pk)
    if supplier.edi_standard == DocumentFormat.X12:
        content = x12.purchase_order_850(
            po,
            sender_id=identities["x12_id"],
            sender_qualifier=identities["x12_qualifier"],
            receiver_id=supplier.edi_id or supplier.code,
            receiver_qualifier=supplier.edi_qualifier or "ZZ",
            control_number=number,
        )
        name = f"850-{po.number}-r{po.revision}.x12"
    else:
        content = edifact.orders(
            po,
            sender_id=identities["edifact_id"],
            sender_qualifier=identities["edifact_qualifier"],
            receiver_id=supplier.edi_id or supplier.code,
            receiver_qualifier=supplier.edi_qualifier,
            control_number=number,
        )
        name = f"ORDERS-{po.number}-r{po.revision}.edi"
    _finish(document, name, content, number)
    return document


def _finish(document: OutboundDocument, name: str, content: bytes, number: int) -> None:
    document.filename = name
    document.content = content
    document.control_number = str(number)
    document.save(update_fields=["filename", "content", "control_number"])


def _drop(source: str, reply: OutboundDocument) -> None:
    """A reply to a file that came through the drop folder goes back the same way."""
    if source == InboundDocument.Source.FOLDER:
        _write_to_folder(reply)


def _write_to_folder(document: OutboundDocument) -> None:
    if not has_drop_folder(document.supplier):
        return  # no drop folder: the portal (and the API) is how this supplier collects documents
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
    transaction.on_commit(
        lambda: write_outbound(document.supplier, f"{stamp}-{document.filename}", bytes(document.content))
    )
