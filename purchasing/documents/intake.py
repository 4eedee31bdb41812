"""Receiving a supplier's document: store it, read it, apply it through the services, answer it.

Every document is kept whole (its bytes, what it was read as, its errors, what it created),
whatever becomes of it. A document applies all or nothing: one bad line rejects the whole file
and nothing it held is written. Documents of one supplier are taken one at a time (the supplier
row is locked), so the same interchange sent twice at once is still applied once: a second
one with the sender and control number of an accepted interchange is kept as a duplicate and
changes nothing. An X12 interchange is answered with a 997 and an EDIFACT one with a CONTRL,
accepted or not.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from config import uploads
from config.audit import context as audit_context
from purchasing.documents import edifact, replies, spreadsheet, x12
from purchasing.documents.shapes import (
    AcknowledgementInput,
    AcknowledgementLineInput,
    DocumentError,
    DocumentFormat,
    DocumentKind,
    Location,
    ParsedDocument,
    Problem,
    ShipmentInput,
)
from purchasing.models import AcknowledgementLine, Channel, InboundDocument, PurchaseOrder
from purchasing.rules import Delivery
from purchasing.services import LineDecision, acknowledgement_accept_all, acknowledgement_submit
from purchasing.services.shipments import shipment_notice_submit
from suppliers.models import Supplier, SupplierMembership, User

logger = logging.getLogger("supplyline.documents")
Action = AcknowledgementLine.Action
CHANNEL_OF_FORMAT = {
    DocumentFormat.CSV: Channel.CSV,
    DocumentFormat.XLSX: Channel.CSV,
    DocumentFormat.X12: Channel.EDI,
    DocumentFormat.EDIFACT: Channel.EDI,
}


def detect_format(content: bytes) -> DocumentFormat:
    """What a file is, from its first bytes (a BOM and leading whitespace skipped); not a check of it."""
    if content.startswith(b"PK\x03\x04"):
        return DocumentFormat.XLSX
    return DocumentFormat(uploads.text_format(content[:512]))


def document_screen(content: bytes, *, filename: str, media_type: str = "") -> DocumentFormat:
    """The document's format if we may store and read it at all: within the size limit, and its content one of
    the four formats, agreeing with its name and media type (config/uploads.py). ValidationError otherwise
    (``FileTooLarge`` over the limit), with a message naming the problem."""
    uploads.check_size(len(content), int(settings.SUPPLYLINE_DOCUMENT_MAX_BYTES))
    fmt = uploads.document_format(
        content, filename=filename, media_type=media_type, max_unpacked=spreadsheet.MAX_XLSX_UNPACKED_BYTES
    )
    return DocumentFormat(fmt)


def stored_filename(name: str) -> str:
    """The sender's file name as we keep it: display text without path, control characters or excess length."""
    return uploads.safe_filename(name, "")


def document_receive(
    *,
    supplier: Supplier,
    content: bytes,
    filename: str,
    source: str,
    by: User | None,
    kind: str = "",
    media_type: str = "",
) -> InboundDocument:
    """Store, read and apply one document; returns it with its status, errors and outcome.

    ``kind`` (ship notice or acknowledgement) is needed for CSV and Excel only; EDI says what it is.
    A file that is no document at all (too large, empty, of another type, or disguised: ``document_screen``)
    raises ValidationError before anything is written. Any other bad document is stored, rejected, with its
    errors on the returned row.
    """
    fmt = document_screen(content, filename=filename, media_type=media_type)
    with transaction.atomic():
        supplier = Supplier.objects.select_for_update().get(pk=supplier.pk)
        document = InboundDocument.objects.create(
            supplier=supplier,
            source=source,
            format=fmt,
            kind=kind,
            filename=stored_filename(filename),
            content=content,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            status=InboundDocument.Status.REJECTED,
            received_by=by,
        )
        with audit_context.document(document.pk):
            parsed = _read(document, content, fmt, kind)
            if parsed is not None:
                _apply(document, parsed, by=by)
            document.save()
            replies.answer(document, parsed)
    logger.info(
        "document received",
        extra={"document_id": document.pk, "supplier": supplier.code, "status": document.status, "format": fmt},
    )
    return document


def _read(document: InboundDocument, content: bytes, fmt: DocumentFormat, kind: str) -> ParsedDocument | None:
    try:
        parsed = _parse(content, fmt, kind)
    except DocumentError as error:
        document.errors = [p.as_json() for p in error.problems]
        if error.document is not None:
            _note_envelope(document, error.document)
        return error.document
    _note_envelope(document, parsed)
    return parsed


def _parse(content: bytes, fmt: DocumentFormat, kind: str) -> ParsedDocument:
    stream = io.BytesIO(content)
    if fmt == DocumentFormat.X12:
        return x12.parse(stream)
    if fmt == DocumentFormat.EDIFACT:
        return edifact.parse(stream)
    if kind not in (DocumentKind.SHIP_NOTICE, DocumentKind.ACKNOWLEDGEMENT):
        raise DocumentError(Problem("Say what the file holds: shipment notices or acknowledgements."))
    if fmt == DocumentFormat.XLSX:
        return spreadsheet.parse_xlsx(stream, kind=DocumentKind(kind))
    return spreadsheet.parse_csv(stream, kind=DocumentKind(kind))


def _note_envelope(document: InboundDocument, parsed: ParsedDocument) -> None:
    document.kind = parsed.kind
    document.sender_id = parsed.sender_id[:35]
    document.control_number = parsed.control_number[:14]


def _apply(document: InboundDocument, parsed: ParsedDocument, *, by: User | None) -> None:
    if document.errors:
        return  # read with errors: only the envelope is known, for the reply
    problem = _sender_problem(document.supplier, parsed) or _role_problem(document.supplier, parsed, by)
    if problem is not None:
        document.errors = [problem.as_json()]
        return
    earlier = _accepted_interchange(document)
    if earlier is not None:
        document.status = InboundDocument.Status.DUPLICATE
        document.duplicate_of = earlier
        document.errors = [Problem(f"Interchange {document.control_number} was already applied.").as_json()]
        return
    try:
        with transaction.atomic():
            document.outcome = _apply_content(document, parsed, by=by)
    except DocumentError as error:
        document.errors = [p.as_json() for p in error.problems]
        return
    document.status = InboundDocument.Status.ACCEPTED


def _sender_problem(supplier: Supplier, parsed: ParsedDocument) -> Problem | None:
    if supplier.edi_id and parsed.sender_id and parsed.sender_id != supplier.edi_id:
        return Problem(
            f"The interchange is from {parsed.sender_id!r}, but your EDI id is {supplier.edi_id!r}.",
            Location(segment="ISA" if parsed.format == DocumentFormat.X12 else "UNB", position=1),
        )
    return None


def _role_problem(supplier: Supplier, parsed: ParsedDocument, by: User | None) -> Problem | None:
    """A person sending a file needs the role the web asks for what it holds; a drop folder (no person) is the
    supplier's own system."""
    if by is None:
        return None
    role = SupplierMembership.objects.active().filter(user=by, supplier=supplier).values_list("role", flat=True).first()
    if parsed.acknowledgements and role not in SupplierMembership.ACKNOWLEDGING_ROLES:
        return Problem("Only a supplier's admins and order desk may acknowledge purchase orders.")
    if parsed.shipments and role not in SupplierMembership.SHIPPING_ROLES:
        return Problem("Only a supplier's admins, order desk and shipping may send shipment notices.")
    return None


def _accepted_interchange(document: InboundDocument) -> InboundDocument | None:
    if not document.control_number:
        return None
    return (
        InboundDocument.objects.filter(
            supplier=document.supplier,
            format=document.format,
            sender_id=document.sender_id,
            control_number=document.control_number,
            status=InboundDocument.Status.ACCEPTED,
        )
        .exclude(pk=document.pk)
        .first()
    )


def _apply_content(document: InboundDocument, parsed: ParsedDocument, *, by: User | None) -> dict[str, Any]:
    """Every shipment and acknowledgement of the document through the services; DocumentError on the first refusal
    (the caller's savepoint then undoes the ones before it)."""
    channel = CHANNEL_OF_FORMAT[DocumentFormat(document.format)]
    shipments: list[str] = []
    acknowledgements: list[dict[str, Any]] = []
    if not parsed.shipments and not parsed.acknowledgements:
        raise DocumentError(Problem("The document holds no shipment notice and no acknowledgement."))
    for shipment in parsed.shipments:
        try:
            notice = shipment_notice_submit(
                supplier=document.supplier, by=by, shipment=shipment, channel=channel, document=document
            )
        except ValidationError as error:
            raise DocumentError(_shipment_problems(shipment, error)) from error
        shipments.append(notice.number)
    for answer in parsed.acknowledgements:
        acknowledgements.append(_acknowledge(document.supplier, answer, by=by, channel=channel))
    return {"shipments": shipments, "acknowledgements": acknowledgements}


def _acknowledge(supplier: Supplier, answer: AcknowledgementInput, *, by: User | None, channel: str) -> dict[str, Any]:
    po = PurchaseOrder.objects.filter(supplier=supplier, number=answer.po_number).first()
    if po is None:
        problem = Problem(f"There is no purchase order {answer.po_number!r} of yours.", answer.location)
        raise DocumentError(problem)
    try:
        if answer.lines:
            ack = acknowledgement_submit(
                po=po, by=by, decisions=decisions_of(answer), channel=channel, expected_version=None, note=answer.note
            )
        else:  # the document accepts the whole PO as issued (EDIFACT BGM 29 with no lines)
            ack = acknowledgement_accept_all(po=po, by=by, channel=channel, expected_version=None)
    except ValidationError as error:
        raise DocumentError(_acknowledgement_problems(answer, error)) from error
    return {"po_number": po.number, "id": ack.pk, "revision": ack.revision}


def decisions_of(answer: AcknowledgementInput) -> list[LineDecision]:
    """The per-line decisions of an answer: several answers for one line are a split into deliveries."""
    by_line: dict[int, list[AcknowledgementLineInput]] = defaultdict(list)
    for line in answer.lines:
        by_line[line.line_number].append(line)
    return [_decision(number, parts) for number, parts in by_line.items()]


def _decision(number: int, parts: Sequence[AcknowledgementLineInput]) -> LineDecision:
    first = parts[0]
    note = "; ".join(p.note for p in parts if p.note)
    if len(parts) == 1 and first.action in (Action.ACCEPT, Action.REJECT):
        return LineDecision(number, first.action, reason_code=first.reason_code, note=note)
    if len(parts) == 1:
        deliveries: tuple[Delivery, ...] = (
            (Delivery(first.quantity, first.date),) if first.quantity and first.date else ()
        )
        return LineDecision(
            number,
            Action.CHANGE,
            note=note,
            quantity=first.quantity,
            unit_price=first.unit_price,
            deliveries=deliveries,
        )
    if any(p.action == Action.REJECT for p in parts):
        return LineDecision(number, Action.REJECT, reason_code=first.reason_code, note=note)
    # A split: each part is one delivery; the line's quantity is their sum.
    deliveries = tuple(Delivery(p.quantity or Decimal(0), p.date) for p in parts if p.date is not None)
    prices = {p.unit_price for p in parts if p.unit_price is not None}
    return LineDecision(
        number,
        Action.CHANGE,
        note=note,
        quantity=sum((p.quantity or Decimal(0) for p in parts), Decimal(0)),
        unit_price=prices.pop() if len(prices) == 1 else None,
        deliveries=deliveries if len(deliveries) == len(parts) else (),
    )


def _shipment_problems(shipment: ShipmentInput, error: ValidationError) -> list[Problem]:
    """The service's messages (keyed ``lines.3.quantity``) placed where the document said it."""
    problems: list[Problem] = []
    for key, messages in _messages(error).items():
        parts = key.split(".")
        location = shipment.location
        if len(parts) >= 2 and parts[1].isdigit():
            items: Sequence[Any] = shipment.lines if parts[0] == "lines" else shipment.packages
            index = int(parts[1]) - 1
            if parts[0] in ("lines", "packages") and 0 <= index < len(items):
                location = items[index].location
        problems.extend(Problem(f"ASN {shipment.number}: {m}", location) for m in messages)
    return problems


def _acknowledgement_problems(answer: AcknowledgementInput, error: ValidationError) -> list[Problem]:
    """The service keys by PO line number (``lines.20.quantity``): place each at that line's first answer."""
    problems: list[Problem] = []
    first_of: dict[int, Location] = {}
    for line in answer.lines:
        first_of.setdefault(line.line_number, line.location)
    for key, messages in _messages(error).items():
        parts = key.split(".")
        location = answer.location
        if len(parts) >= 2 and parts[0] == "lines" and parts[1].isdigit():
            location = first_of.get(int(parts[1]), answer.location)
        problems.extend(Problem(f"{answer.po_number}: {m}", location) for m in messages)
    return problems


def _messages(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {key: [str(m) for e in errors for m in e.messages] for key, errors in error.error_dict.items()}
    return {"__all__": list(error.messages)}
