"""One interchange: the envelope checked (UNB/UNZ, UNG/UNE, UNH/UNT), each message read by its type's reader.

pydifact knows nothing of functional groups, so UNG and UNE never reach it as groups: they are
segments like any other here, and their counts and references are checked like UNZ's and UNT's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import BinaryIO, Protocol

from purchasing.documents.edifact.desadv import DesadvReader
from purchasing.documents.edifact.ordrsp import OrdrspReader
from purchasing.documents.edifact.syntax import Segment, segments
from purchasing.documents.edifact.values import Problems, StopReading
from purchasing.documents.shapes import (
    AcknowledgementInput,
    DocumentError,
    DocumentFormat,
    DocumentKind,
    Location,
    ParsedDocument,
    Problem,
    ShipmentInput,
    TransactionSet,
)

KINDS = {
    "DESADV": DocumentKind.SHIP_NOTICE,
    "ORDRSP": DocumentKind.ACKNOWLEDGEMENT,
    "ORDERS": DocumentKind.PURCHASE_ORDER,
    "CONTRL": DocumentKind.FUNCTIONAL_ACK,
}
_ENVELOPE_TAGS = frozenset({"UNB", "UNG", "UNE", "UNH", "UNZ"})
_COUNT_DIGITS = 6  # 0036, 0060 and 0074 are n..6


class MessageReader(Protocol):
    def feed(self, segment: Segment) -> None: ...

    def finish(self) -> ShipmentInput | AcknowledgementInput | None: ...


@dataclass(frozen=True)
class MessageType:
    reader: Callable[[Segment, Problems], MessageReader]  # called with the UNH
    releases: frozenset[str]  # "D:96A"


# What parse reads; other types are refused, so a partner learns at once that we ignore them.
READERS: Mapping[str, MessageType] = {
    "DESADV": MessageType(DesadvReader, frozenset({"D:96A", "D:01B"})),
    "ORDRSP": MessageType(OrdrspReader, frozenset({"D:96A", "D:01B"})),
}


@dataclass(frozen=True)
class EdifactMessage(TransactionSet):
    """A TransactionSet that knows where its UNH is and how long it is, so a CONTRL can point into it
    (UCS counts segments from the UNH)."""

    position: int | None = None  # of the UNH, in the interchange
    segment_count: int = 0  # UNH to UNT, both counted

    def holds(self, position: int) -> bool:
        return self.position is not None and self.position <= position < self.position + self.segment_count


class InterchangeError(DocumentError):
    """A DocumentError that keeps what was read of the envelope, so the CONTRL rejecting the interchange
    can still be written. ``document`` holds the envelope and the messages (with their positions) and no
    business content; it is None when no UNB, or no message of a type we know, could be read."""

    def __init__(self, problems: list[Problem], document: ParsedDocument | None) -> None:
        super().__init__(problems, document)


def parse(stream: BinaryIO) -> ParsedDocument:
    """Read one interchange of DESADV or ORDRSP messages (D.96A, D.01B) into shipments or acknowledgements.

    Reads in chunks: memory holds the segment being read and what it builds, not the file. Raises
    InterchangeError (a DocumentError) listing every problem found, each with its segment and position.
    """
    return _Interchange(READERS).read(stream)


def read_envelope(stream: BinaryIO) -> ParsedDocument:
    """Check any interchange's envelope (counts and references) without reading its messages, e.g. the
    ORDERS and CONTRL we write, or a partner's CONTRL; raises InterchangeError like ``parse``."""
    return _Interchange(None).read(stream)


@dataclass
class _OpenMessage:
    unh: Segment
    reference: str
    code: str
    version: str
    reader: MessageReader | None
    count: int = 1


@dataclass
class _OpenGroup:
    ung: Segment
    reference: str
    messages: int = 0


@dataclass
class _Seen:
    """What the interchange held so far."""

    unb: Segment | None = None
    first_ung: Segment | None = None
    kind: DocumentKind | None = None
    groups: int = 0
    loose_messages: int = 0  # outside any group
    references: set[str] = field(default_factory=set)
    messages: list[EdifactMessage] = field(default_factory=list)
    shipments: list[ShipmentInput] = field(default_factory=list)
    acknowledgements: list[AcknowledgementInput] = field(default_factory=list)


class _Interchange:
    def __init__(self, readers: Mapping[str, MessageType] | None) -> None:
        self._readers = readers  # None: the envelope only
        self._problems = Problems()
        self._seen = _Seen()
        self._group: _OpenGroup | None = None
        self._message: _OpenMessage | None = None
        self._unz: Segment | None = None
        self._last_position = 0
        self._handlers: dict[str, Callable[[Segment], None]] = {
            "UNG": self._ung,
            "UNE": self._une,
            "UNH": self._unh,
            "UNZ": self._unz_segment,
        }

    def read(self, stream: BinaryIO) -> ParsedDocument:
        try:
            for segment in segments(stream):
                self._last_position = segment.position
                self._take(segment)
            self._end()
        except StopReading:
            pass  # the problems say why
        except DocumentError as error:
            self._problems.items.extend(error.problems)
        document = self._document()
        if self._problems or document is None:
            # A rejected interchange builds nothing: keep who sent it and its messages, for the CONTRL.
            envelope = replace(document, shipments=(), acknowledgements=()) if document else None
            raise InterchangeError(self._problems.items, document=envelope)
        return document

    def _take(self, segment: Segment) -> None:
        if self._seen.unb is None:
            self._unb(segment)
        elif self._unz is not None:
            self._problems.stop("nothing may follow the UNZ", segment.location())
        elif self._message is not None:
            self._in_message(self._message, segment)
        elif handler := self._handlers.get(segment.tag):
            handler(segment)
        else:
            self._problems.at(segment, f"{segment.tag} outside a message (UNH to UNT)")

    def _in_message(self, message: _OpenMessage, segment: Segment) -> None:
        if segment.tag in _ENVELOPE_TAGS:
            self._problems.add(f"message {message.reference} has no UNT", Location("UNT", segment.position))
            self._message = None
            self._take(segment)
            return
        message.count += 1
        if segment.tag == "UNT":
            self._unt(message, segment)
        elif message.reader is not None:
            message.reader.feed(segment)

    # --- interchange ------------------------------------------------------------------------

    def _unb(self, unb: Segment) -> None:
        if unb.tag != "UNB":
            self._problems.stop("an interchange starts with UNB (after an optional UNA)", unb.location())
        self._seen.unb = unb
        if unb.value(1, 2) not in ("1", "2", "3", "4"):
            self._problems.at(unb, f"syntax version “{unb.value(1, 2)}” is not 1 to 4", 1)
        for element, what in ((2, "sender"), (3, "recipient")):
            if not unb.value(element):
                self._problems.at(unb, f"the interchange {what} is missing", element)
        if not 0 < len(unb.value(5)) <= 14:
            self._problems.at(unb, "the interchange control reference (0020) must be 1 to 14 characters", 5)

    def _unz_segment(self, unz: Segment) -> None:
        if self._group is not None:
            self._problems.add(f"group {self._group.reference} has no UNE", Location("UNE", unz.position))
            self._group = None
        seen = self._seen
        # UNZ counts the groups when there are groups, else the messages.
        count = seen.groups or seen.loose_messages
        self._check_count(unz, count, "messages" if not seen.groups else "groups")
        self._check_reference(unz, 2, seen.unb.value(5) if seen.unb else "", "UNB")
        self._unz = unz

    def _end(self) -> None:
        if self._seen.unb is None:
            self._problems.add("no interchange: the file has no UNB", Location("UNB", 1))
            return
        # What is missing is located where it should have been: after the last segment.
        after = self._last_position + 1
        if self._message is not None:
            self._problems.add(
                f"message {self._message.reference} has no UNT: the file is cut short", Location("UNT", after)
            )
        if self._group is not None:
            self._problems.add(
                f"group {self._group.reference} has no UNE: the file is cut short", Location("UNE", after)
            )
        if self._unz is None:
            self._problems.add("the interchange has no UNZ: the file is cut short", Location("UNZ", after))
        elif not self._seen.messages:
            self._problems.at(self._unz, "the interchange holds no message")

    # --- groups -----------------------------------------------------------------------------

    def _ung(self, ung: Segment) -> None:
        if self._seen.loose_messages:
            self._problems.at(ung, "functional groups and messages outside groups are mixed")
        if self._group is not None:
            self._problems.add(f"group {self._group.reference} has no UNE", Location("UNE", ung.position))
        if not ung.value(5):
            self._problems.at(ung, "the group reference (0048) is missing", 5)
        self._group = _OpenGroup(ung, ung.value(5))
        self._seen.groups += 1
        self._seen.first_ung = self._seen.first_ung or ung

    def _une(self, une: Segment) -> None:
        group, self._group = self._group, None
        if group is None:
            self._problems.at(une, "UNE without UNG")
            return
        self._check_count(une, group.messages, "messages")
        self._check_reference(une, 2, group.reference, "UNG")

    # --- messages ---------------------------------------------------------------------------

    def _unh(self, unh: Segment) -> None:
        if self._group is not None:
            self._group.messages += 1
        elif self._seen.groups:
            self._problems.at(unh, "functional groups and messages outside groups are mixed")
        else:
            self._seen.loose_messages += 1
        reference, code = unh.value(1), unh.value(2, 1)
        self._check_message_reference(unh, reference)
        self._check_kind(unh, code)
        if self._group is not None and self._group.ung.value(1) != code:
            self._problems.at(unh, f"a {code} message in a group of {self._group.ung.value(1)}", 2)
        version = f"{unh.value(2, 2)}:{unh.value(2, 3)}"
        self._message = _OpenMessage(unh, reference, code, version, self._reader(unh, code, version))

    def _check_message_reference(self, unh: Segment, reference: str) -> None:
        if not 0 < len(reference) <= 14:
            self._problems.at(unh, "the message reference (0062) must be 1 to 14 characters", 1)
        elif reference in self._seen.references:
            self._problems.at(unh, f"message reference {reference} is used twice", 1)
        self._seen.references.add(reference)

    def _check_kind(self, unh: Segment, code: str) -> None:
        kind = KINDS.get(code)
        if kind is None:
            self._problems.at(unh, f"message type “{code}” is not one we exchange", 2)
        elif self._seen.kind is None:
            self._seen.kind = kind
        elif kind != self._seen.kind:
            self._problems.at(unh, f"a {code} among other messages: send one kind of message per interchange", 2)

    def _reader(self, unh: Segment, code: str, version: str) -> MessageReader | None:
        if self._readers is None or code not in KINDS:
            return None
        message_type = self._readers.get(code)
        if message_type is None:
            self._problems.at(unh, f"we do not read {code} messages", 2)
            return None
        if version not in message_type.releases:
            supported = ", ".join(sorted(message_type.releases))
            self._problems.at(unh, f"{code} {version} is not supported ({supported})", 2)
            return None
        return message_type.reader(unh, self._problems)

    def _unt(self, message: _OpenMessage, unt: Segment) -> None:
        self._message = None
        self._check_count(unt, message.count, "segments")
        self._check_reference(unt, 2, message.reference, "UNH")
        content = message.reader.finish() if message.reader is not None else None
        if isinstance(content, ShipmentInput):
            self._seen.shipments.append(content)
        elif isinstance(content, AcknowledgementInput):
            self._seen.acknowledgements.append(content)
        group = self._group
        self._seen.messages.append(
            EdifactMessage(
                code=message.code,
                control_number=message.reference,
                group_control_number=group.reference if group else "",
                functional_id=group.ung.value(1) if group else "",
                version=message.version,
                position=message.unh.position,
                segment_count=message.count,
            )
        )

    # --- checks and result ------------------------------------------------------------------

    def _check_count(self, segment: Segment, actual: int, what: str) -> None:
        declared = segment.value(1)
        if not (declared.isascii() and declared.isdigit() and len(declared) <= _COUNT_DIGITS):
            self._problems.at(segment, f"the count “{declared}” is not a number", 1)
        elif int(declared) != actual:
            self._problems.at(segment, f"{segment.tag} counts {int(declared)} {what}, there are {actual}", 1)

    def _check_reference(self, segment: Segment, element: int, expected: str, opener: str) -> None:
        reference = segment.value(element)
        if reference != expected:
            self._problems.at(segment, f"reference “{reference}” does not match the {opener}'s “{expected}”", element)

    def _document(self) -> ParsedDocument | None:
        seen = self._seen
        if seen.unb is None or seen.kind is None:
            return None
        unb, ung = seen.unb, seen.first_ung
        return ParsedDocument(
            format=DocumentFormat.EDIFACT,
            kind=seen.kind,
            sender_id=unb.value(2, 1),
            receiver_id=unb.value(3, 1),
            control_number=unb.value(5),
            sender_qualifier=unb.value(2, 2),
            receiver_qualifier=unb.value(3, 2),
            test_indicator=unb.value(11) == "1",
            shipments=tuple(seen.shipments),
            acknowledgements=tuple(seen.acknowledgements),
            transaction_sets=tuple(seen.messages),
            group_sender_id=ung.value(2, 1) if ung else "",
            group_receiver_id=ung.value(3, 1) if ung else "",
        )
