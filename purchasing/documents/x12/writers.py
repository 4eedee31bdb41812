"""Our outbound X12 4010: the 997 functional acknowledgement and the 850 purchase order.

The bytes are deterministic: everything that differs between two runs (the time, the control
number) is a parameter. Elements are separated by "*", components by ">", and each segment
ends with "~" and a newline, which every translator accepts and a person can read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain

from django.utils import timezone

from purchasing.documents.shapes import ParsedDocument, Problem, TransactionSet
from purchasing.documents.x12.envelope import X12TransactionSet
from purchasing.models import LineStatus, PurchaseOrder, PurchaseOrderLine

ELEMENT, COMPONENT, TERMINATOR = "*", ">", "~\n"
ISA_VERSION, GS_VERSION = "00401", "004010"
# X12 has no escape character: a delimiter inside a value would cut it, so it becomes a space.
_DELIMITER_CHARACTERS = re.compile(r"[*>~^\r\n]")
# AK5 codes for what is wrong with a set's own ST/SE: (tag, element) -> code (X12 element 718).
_TRAILER_CODES = {("SE", 1): "4", ("SE", 2): "3", ("SE", None): "2", ("ST", 1): "6", ("ST", 2): "7"}
_SEGMENTS_IN_ERROR = "5"
# AK3/AK4 codes (X12 elements 720 and 723). A Problem carries no code, so these are the general
# ones: a segment "has data element errors" (the element, when known, "invalid"), except a
# missing segment, located at its set's ST by the parser's convention: "mandatory segment missing".
_SEGMENT_HAS_ERRORS, _MANDATORY_SEGMENT_MISSING = "8", "3"
_INVALID_ELEMENT = "7"


@dataclass(frozen=True)
class _Envelope:
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    group_sender_id: str
    group_receiver_id: str
    control_number: int
    at: dt.datetime
    test: bool

    def __post_init__(self) -> None:
        for qualifier in (self.sender_qualifier, self.receiver_qualifier):
            if not 0 < len(qualifier) <= 2:
                raise ValueError(f"An ISA id qualifier is 1 or 2 characters, not {qualifier!r}.")
        for party in (self.sender_id, self.receiver_id):
            if not 0 < len(party) <= 15:
                raise ValueError(f"An ISA id is 1 to 15 characters, not {party!r}.")
        if not 0 < self.control_number < 10**9:
            raise ValueError(f"A control number is 1 to 999999999, not {self.control_number}.")


def functional_ack_997(
    parsed: ParsedDocument,
    *,
    accepted: bool,
    problems: Sequence[Problem] = (),
    sender_id: str,
    sender_qualifier: str,
    control_number: int,
    at: dt.datetime | None = None,
) -> bytes:
    """The 997 answering ``parsed``: one 997 per functional group it held, to its sender.

    ``accepted``: whether we took the interchange. If not, every set is rejected (AK5 R, AK9 R).
    If so, a set with problems is "accepted, but errors were noted" (E).

    ``problems``: what to report beside the problems the parser put on each transaction set, e.g.
    a service's refusal placed at a LIN. Each goes to the set whose segments hold its position
    (for ``parse``'s sets, which know their positions), with AK3 for the segment and AK4 for the
    element when they are known. Problems of the envelope itself (ISA, GS, GE, IEA) belong in no
    set and are not repeated: ``accepted`` alone says whether the whole was taken.

    ``sender_id`` and ``sender_qualifier`` are our ISA identity; the receiver is the interchange's
    sender, and the GS application ids are the received ones swapped. ``control_number`` is ours
    (ISA13 and GS06); ``at`` is the moment written in ISA09/ISA10 and GS04/GS05 (default: now;
    pass it for the same bytes every time). For a refused interchange, ``parsed`` is the
    ``document`` of the X12DocumentError. ValueError when no set is in a functional group.
    """
    groups = _groups(parsed.transaction_sets)
    if not groups:
        raise ValueError("The interchange has no transaction set in a functional group to acknowledge.")
    envelope = _Envelope(
        sender_qualifier=sender_qualifier,
        sender_id=sender_id,
        receiver_qualifier=parsed.sender_qualifier,
        receiver_id=parsed.sender_id,
        group_sender_id=parsed.group_receiver_id or sender_id,
        group_receiver_id=parsed.group_sender_id or parsed.sender_id,
        control_number=control_number,
        at=at or timezone.now(),
        test=parsed.test_indicator,
    )
    sets = [
        _transaction_set("997", f"{number:04d}", _ack_body(group, accepted, problems))
        for number, group in enumerate(groups, start=1)
    ]
    return _interchange(envelope, "FA", sets)


def purchase_order_850(
    po: PurchaseOrder,
    *,
    sender_id: str,
    sender_qualifier: str,
    receiver_id: str,
    receiver_qualifier: str,
    control_number: int,
    at: dt.datetime | None = None,
    test: bool = False,
) -> bytes:
    """The PO as an 850: its header, ship-to site and every line that is not cancelled.

    A revised PO (revision > 1) is sent whole as a replacement (BEG01 05). Reads ``po.supplier``,
    ``po.site`` and ``po.lines`` with their items: prefetch them when writing many. ``at`` is the
    moment written in the ISA and GS (default: now; pass it for the same bytes every time).
    """
    envelope = _Envelope(
        sender_qualifier=sender_qualifier,
        sender_id=sender_id,
        receiver_qualifier=receiver_qualifier,
        receiver_id=receiver_id,
        group_sender_id=sender_id,
        group_receiver_id=receiver_id,
        control_number=control_number,
        at=at or timezone.now(),
        test=test,
    )
    return _interchange(envelope, "PO", [_transaction_set("850", "0001", _po_body(po))])


def _po_body(po: PurchaseOrder) -> list[str]:
    lines = sorted((line for line in po.lines.all() if line.status != LineStatus.CANCELLED), key=_line_number)
    header = [
        _segment("BEG", "00" if po.revision == 1 else "05", "SA", po.number, "", _date(po.order_date)),
        _segment("CUR", "BY", po.currency),
        _segment("REF", "IA", po.supplier.erp_vendor_id),
        _segment("DTM", "004", _date(po.order_date)),
        _segment("N1", "ST", po.site.name, "92", po.site.code),
    ]
    total = sum((line.ordered_quantity for line in lines), Decimal(0))
    return [*header, *chain.from_iterable(map(_po_line, lines)), _segment("CTT", str(len(lines)), _number(total))]


def _po_line(line: PurchaseOrderLine) -> list[str]:
    item = line.item
    return [
        _segment(
            "PO1",
            str(line.line_number),
            _number(line.ordered_quantity),
            item.unit_of_measure,
            _number(line.unit_price),
            "",
            "BP",
            item.sku,
        ),
        _segment("PID", "F", "", "", "", item.description),
        _segment("DTM", "002", _date(line.need_by_date)),
    ]


def _line_number(line: PurchaseOrderLine) -> int:
    return line.line_number


def _groups(sets: Iterable[TransactionSet]) -> list[list[TransactionSet]]:
    """The received sets by functional group, in order; a set outside any group cannot be acknowledged."""
    groups: dict[tuple[str, str], list[TransactionSet]] = {}
    for transaction_set in sets:
        if transaction_set.group_control_number:
            key = (transaction_set.functional_id, transaction_set.group_control_number)
            groups.setdefault(key, []).append(transaction_set)
    return list(groups.values())


def _ack_body(group: list[TransactionSet], accepted: bool, extra: Sequence[Problem]) -> list[str]:
    first = group[0]
    body = [_segment("AK1", first.functional_id, first.group_control_number)]
    statuses: list[str] = []
    for transaction_set in group:
        problems = _problems_of(transaction_set, extra)
        statuses.append(_status(accepted, problems))
        body.append(_segment("AK2", transaction_set.code, transaction_set.control_number))
        body.extend(chain.from_iterable(_segment_errors(transaction_set, p) for p in problems))
        body.append(_segment("AK5", statuses[-1], *_set_codes(statuses[-1], problems)))
    group_status = "R" if not accepted else ("E" if "E" in statuses else "A")
    taken = sum(status != "R" for status in statuses)
    body.append(_segment("AK9", group_status, str(len(group)), str(len(group)), str(taken)))
    return body


def _problems_of(transaction_set: TransactionSet, extra: Sequence[Problem]) -> list[Problem]:
    inside = [p for p in extra if _inside(transaction_set, p)]
    return list(dict.fromkeys([*transaction_set.problems, *inside]))


def _inside(transaction_set: TransactionSet, problem: Problem) -> bool:
    position = problem.location.position
    if not isinstance(transaction_set, X12TransactionSet) or position is None:
        return False
    return transaction_set.position <= position <= transaction_set.end_position


def _status(accepted: bool, problems: Sequence[Problem]) -> str:
    if not accepted:
        return "R"
    return "E" if problems else "A"


def _set_codes(status: str, problems: Sequence[Problem]) -> list[str]:
    if status == "A":
        return []
    codes = [_TRAILER_CODES.get((p.location.segment, p.location.element), _SEGMENTS_IN_ERROR) for p in problems]
    return list(dict.fromkeys(codes))[:5]  # AK502 to AK506


def _segment_errors(transaction_set: TransactionSet, problem: Problem) -> list[str]:
    """AK3 (and AK4) for a problem located in the set's body; its ST and SE are reported by AK5."""
    location = problem.location
    if not isinstance(transaction_set, X12TransactionSet) or location.position is None:
        return []
    if location.segment in ("", "ST", "SE") or not _inside(transaction_set, problem):
        return []
    position = str(location.position - transaction_set.position + 1)
    missing = location.position == transaction_set.position
    code = _MANDATORY_SEGMENT_MISSING if missing else _SEGMENT_HAS_ERRORS
    errors = [_segment("AK3", location.segment, position, "", code)]
    if location.element is not None:
        errors.append(_segment("AK4", str(location.element), "", _INVALID_ELEMENT))
    return errors


def _interchange(envelope: _Envelope, functional_id: str, sets: list[list[str]]) -> bytes:
    control = str(envelope.control_number)
    segments = [
        _isa(envelope),
        _segment(
            "GS",
            functional_id,
            envelope.group_sender_id,
            envelope.group_receiver_id,
            envelope.at.strftime("%Y%m%d"),
            envelope.at.strftime("%H%M"),
            control,
            "X",
            GS_VERSION,
        ),
        *chain.from_iterable(sets),
        _segment("GE", str(len(sets)), control),
        _segment("IEA", "1", f"{envelope.control_number:09d}"),
    ]
    return "".join(segments).encode()


def _isa(envelope: _Envelope) -> str:
    elements = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        _clean(envelope.sender_qualifier).ljust(2),
        _clean(envelope.sender_id).ljust(15),
        _clean(envelope.receiver_qualifier).ljust(2),
        _clean(envelope.receiver_id).ljust(15),
        envelope.at.strftime("%y%m%d"),
        envelope.at.strftime("%H%M"),
        "U",
        ISA_VERSION,
        f"{envelope.control_number:09d}",
        "0",
        "T" if envelope.test else "P",
        COMPONENT,  # ISA16 is the delimiter itself, so it is not cleaned
    ]
    return ELEMENT.join(elements) + TERMINATOR


def _transaction_set(code: str, control_number: str, body: list[str]) -> list[str]:
    segments = [_segment("ST", code, control_number), *body]
    return [*segments, _segment("SE", str(len(segments) + 1), control_number)]


def _segment(tag: str, *elements: str) -> str:
    values = [_clean(value) for value in elements]
    while values and not values[-1]:
        values.pop()  # X12 leaves trailing empty elements out
    return ELEMENT.join([tag, *values]) + TERMINATOR


def _clean(value: str) -> str:
    return _DELIMITER_CHARACTERS.sub(" ", value)


def _date(value: dt.date) -> str:
    return value.strftime("%Y%m%d")


def _number(value: Decimal) -> str:
    """X12 type R: no exponent, no trailing zeros (12.5000 -> 12.5, 100.000 -> 100)."""
    return format(value.normalize(), "f")
