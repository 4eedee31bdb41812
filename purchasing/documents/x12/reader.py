"""Reading one X12 interchange of ship notices (856) or PO acknowledgements (855) into the shapes.

The tokenizer, the envelope check and the mappers are chained generators: each segment goes
through all three before the next is read, so memory holds what is being built, not the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby
from operator import itemgetter
from typing import BinaryIO, Protocol

from purchasing.documents.shapes import (
    AcknowledgementInput,
    DocumentFormat,
    DocumentKind,
    ParsedDocument,
    ShipmentInput,
)
from purchasing.documents.x12.acknowledgement import AcknowledgementMapper
from purchasing.documents.x12.elements import Elements
from purchasing.documents.x12.envelope import Envelope, X12TransactionSet
from purchasing.documents.x12.problems import ProblemLog, X12DocumentError
from purchasing.documents.x12.ship_notice import ShipNoticeMapper
from purchasing.documents.x12.tokenizer import Segment, tokenize

READ_KINDS = {"856": DocumentKind.SHIP_NOTICE, "855": DocumentKind.ACKNOWLEDGEMENT}
# Sets we do not read still get named in the envelope of a refusal, so the 997 can reject them.
KNOWN_KINDS = READ_KINDS | {"850": DocumentKind.PURCHASE_ORDER, "997": DocumentKind.FUNCTIONAL_ACK}


class _Mapper[T](Protocol):
    def feed(self, segment: Segment) -> None: ...

    def finish(self) -> T | None: ...


def parse(stream: BinaryIO) -> ParsedDocument:
    """The ship notices or acknowledgements of the one interchange in ``stream``.

    Raises ``X12DocumentError`` (a ``DocumentError``) listing every problem found, with the
    envelope for the 997 on its ``document``; never builds anything from a faulty interchange.
    """
    problems = ProblemLog()
    envelope = Envelope(problems)
    content = _Content(problems)
    for index, entries in groupby(envelope.read(tokenize(stream, problems)), key=itemgetter(0)):
        if index is not None:
            content.read_set(index, (segment for _, segment in entries))
    if content.kind is None and not problems:
        problems.add("The interchange holds no ship notice and no acknowledgement.")
    if problems or content.kind is None:
        raise X12DocumentError(problems.problems, _refusal(envelope, problems))
    return _document(envelope, problems, content.kind, content)


class _Content:
    """What the transaction sets hold; one kind per interchange."""

    def __init__(self, problems: ProblemLog) -> None:
        self.kind: DocumentKind | None = None
        self.shipments: list[ShipmentInput] = []
        self.acknowledgements: list[AcknowledgementInput] = []
        self._problems = problems

    def read_set(self, index: int, segments: Iterator[Segment]) -> None:
        st = next(segments)  # groupby never yields an empty group, and a set's first segment is its ST
        elements = Elements(self._problems, index)
        kind = READ_KINDS.get(st.element(1))
        if kind is None:
            elements.problem(st, f"We read 856 ship notices and 855 acknowledgements, not {st.element(1)!r}.", 1)
        elif self.kind not in (None, kind):
            elements.problem(st, "An interchange holds one kind of transaction set: 856 or 855, not both.", 1)
        elif kind == DocumentKind.SHIP_NOTICE:
            self.kind = kind
            _append(self.shipments, _mapped(ShipNoticeMapper(st, elements), segments))
        else:
            self.kind = kind
            _append(self.acknowledgements, _mapped(AcknowledgementMapper(st, elements), segments))


def _mapped[T](mapper: _Mapper[T], segments: Iterator[Segment]) -> T | None:
    for segment in segments:
        mapper.feed(segment)
    return mapper.finish()


def _append[T](items: list[T], item: T | None) -> None:
    if item is not None:
        items.append(item)


def _document(envelope: Envelope, problems: ProblemLog, kind: DocumentKind, content: _Content) -> ParsedDocument:
    interchange = envelope.interchange
    group = envelope.first_group
    return ParsedDocument(
        format=DocumentFormat.X12,
        kind=kind,
        sender_id=interchange.sender_id if interchange else "",
        receiver_id=interchange.receiver_id if interchange else "",
        control_number=interchange.control_number if interchange else "",
        sender_qualifier=interchange.sender_qualifier if interchange else "",
        receiver_qualifier=interchange.receiver_qualifier if interchange else "",
        test_indicator=interchange.test_indicator if interchange else False,
        shipments=tuple(content.shipments),
        acknowledgements=tuple(content.acknowledgements),
        transaction_sets=_transaction_sets(envelope, problems),
        group_sender_id=group.sender_id if group else "",
        group_receiver_id=group.receiver_id if group else "",
    )


def _refusal(envelope: Envelope, problems: ProblemLog) -> ParsedDocument | None:
    """The envelope of a refused interchange, for its 997; None when there is nothing a 997 can answer
    (an ISA out of shape calls for a TA1; a set outside a group, or in one without GS06, has no AK1)."""
    grouped = [span for span in envelope.sets if span.group is not None and span.group.control_number]
    if not envelope.answerable or not grouped:
        return None
    kind = next((KNOWN_KINDS[s.code] for s in grouped if s.code in KNOWN_KINDS), None)
    if kind is None:
        return None
    return _document(envelope, problems, kind, _Content(problems))


def _transaction_sets(envelope: Envelope, problems: ProblemLog) -> tuple[X12TransactionSet, ...]:
    return tuple(
        X12TransactionSet(
            code=span.code,
            control_number=span.control_number,
            group_control_number=span.group.control_number if span.group else "",
            functional_id=span.group.functional_id if span.group else "",
            version=span.group.version if span.group else "",
            problems=problems.of_set(span.index),
            position=span.position,
            end_position=span.end_position,
        )
        for span in envelope.sets
    )
