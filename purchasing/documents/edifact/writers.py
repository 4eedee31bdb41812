"""What we send: ORDERS (D.96A) from a purchase order, and CONTRL answering an interchange we read.

Both are deterministic (the same arguments give the same bytes), start with a UNA, use syntax
UNOC:3 (ISO 8859-1: the widest character set every partner's translator reads) and count their
UNT and UNZ from the segments they write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils import timezone

from purchasing.documents.edifact.interchange import EdifactMessage
from purchasing.documents.edifact.syntax import Segment, render
from purchasing.documents.shapes import ParsedDocument, Problem, TransactionSet
from purchasing.models import LineStatus

if TYPE_CHECKING:
    from purchasing.models import PurchaseOrder, PurchaseOrderLine

_CHARSET = "latin-1"
_SYNTAX = ("UNOC", "3")
_MAX_CONTROL_NUMBER = 10**14 - 1  # 0020 is an..14
_SERVICE_TAGS = frozenset({"UNB", "UNG", "UNE", "UNZ"})
# CONTRL 0083 action codes and 0085 syntax error codes.
_ACKNOWLEDGED, _REJECTED = "7", "4"
_INVALID_VALUE, _UNSPECIFIED = "12", "18"


def orders(
    po: PurchaseOrder,
    *,
    sender_id: str,
    receiver_id: str,
    control_number: int,
    sender_qualifier: str = "",
    receiver_qualifier: str = "",
    at: dt.datetime | None = None,
) -> bytes:
    """The ORDERS D.96A interchange of ``po``'s lines that are not cancelled.

    A first revision is an original (BGM 1225 9), a later one replaces it (5). ``at`` (UNB's date and
    time, in UTC) defaults to the PO's last change, so the same revision gives the same bytes.
    Reads the PO's lines, items, site and supplier from the database.
    """
    lines = list(po.lines.exclude(status=LineStatus.CANCELLED).select_related("item").order_by("line_number"))
    body = [
        *_order_header(po, sender_id),
        *(segment for line in lines for segment in _order_line(line)),
        Segment("UNS", (("S",),)),
        Segment("CNT", (("2", str(len(lines))),)),
    ]
    sender, receiver = (sender_id, sender_qualifier), (receiver_id, receiver_qualifier)
    message = _message("1", ("ORDERS", "D", "96A", "UN"), body)
    unb = _unb(sender, receiver, at or po.updated_at, control_number)
    return _interchange(unb, message, control_number)


def contrl(
    parsed: ParsedDocument,
    *,
    accepted: bool,
    problems: Sequence[Problem] = (),
    control_number: int,
    sender_id: str = "",
    sender_qualifier: str = "",
    at: dt.datetime | None = None,
) -> bytes:
    """The CONTRL (D:3) answering ``parsed``: UCI for the interchange, UCF per functional group, UCM per message.

    Our answer is all or nothing: accepted, everything is acknowledged (7); not accepted, everything is
    rejected (4), and each problem located in a message (``parsed`` from ``parse`` or from an
    InterchangeError's envelope) becomes a UCS (its position counted from the UNH) with a UCD when it
    names an element. A problem in the UNB, UNZ, UNG or UNE, or located nowhere, is reported on the UCI.
    ``problems`` adds to those the transaction sets carry.

    We send it as ``sender_id`` (default: the interchange's recipient) to the interchange's sender.
    ``at`` (UNB's date and time) defaults to now: pass it for the same bytes every time.
    """
    action = _ACKNOWLEDGED if accepted else _REJECTED
    everything = [*problems, *(p for ts in parsed.transaction_sets for p in ts.problems)]
    body = [_uci(parsed, action, everything)]
    groups = _groups(parsed.transaction_sets)
    for group, members in groups.items():
        if group:
            body.append(Segment("UCF", ((group,), (parsed.group_sender_id,), (parsed.group_receiver_id,), (action,))))
        for ts in members:
            body += _ucm(ts, action, everything)
    sender = (sender_id, sender_qualifier) if sender_id else (parsed.receiver_id, parsed.receiver_qualifier)
    receiver = (parsed.sender_id, parsed.sender_qualifier)
    message = _message("1", ("CONTRL", "D", "3", "UN"), body)
    unb = _unb(sender, receiver, at or timezone.now(), control_number, test=parsed.test_indicator)
    return _interchange(unb, message, control_number)


# --- ORDERS -----------------------------------------------------------------------------------


def _order_header(po: PurchaseOrder, buyer_id: str) -> list[Segment]:
    return [
        Segment("BGM", (("220",), (po.number,), ("9" if po.revision == 1 else "5",))),
        _dtm("137", po.order_date),
        _nad("BY", buyer_id),
        _nad("SU", po.supplier.code, po.supplier.name),
        _nad("DP", po.site.code, po.site.name),
        Segment("CUX", (("2", po.currency, "9"),)),
    ]


def _order_line(line: PurchaseOrderLine) -> list[Segment]:
    return [
        Segment("LIN", ((str(line.line_number),), ("",), (line.item.sku, "IN"))),
        Segment("QTY", (("21", _number(line.ordered_quantity), line.item.unit_of_measure),)),
        _dtm("2", line.need_by_date),
        Segment("PRI", (("AAA", _number(line.unit_price)),)),
    ]


# --- CONTRL -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pointer:
    """A problem's place inside one message: segment position from the UNH, element (0: none)."""

    position: int
    element: int


def _uci(parsed: ParsedDocument, action: str, problems: list[Problem]) -> Segment:
    elements: list[tuple[str, ...]] = [
        (parsed.control_number,),
        (parsed.sender_id, parsed.sender_qualifier),
        (parsed.receiver_id, parsed.receiver_qualifier),
        (action,),
    ]
    outside = [p for p in problems if _message_holding(parsed.transaction_sets, p) is None]
    if action == _REJECTED and outside:
        # One UCI names one error: the first one outside the messages.
        location = outside[0].location
        tag = location.segment if location.segment in _SERVICE_TAGS else ""
        elements += [(_UNSPECIFIED,), (tag,), (str(location.element or ""),)]
    return Segment("UCI", tuple(elements))


def _groups(transaction_sets: Sequence[TransactionSet]) -> dict[str, list[TransactionSet]]:
    groups: dict[str, list[TransactionSet]] = {}
    for ts in transaction_sets:
        groups.setdefault(ts.group_control_number, []).append(ts)
    return groups


def _ucm(ts: TransactionSet, action: str, problems: list[Problem]) -> list[Segment]:
    message_type, _, release = ts.version.partition(":")
    ucm = Segment("UCM", ((ts.control_number,), (ts.code, message_type, release, "UN"), (action,)))
    if action != _REJECTED:
        return [ucm]
    return [ucm, *_ucs_ucd(_pointers(ts, problems))]


def _pointers(ts: TransactionSet, problems: list[Problem]) -> list[_Pointer]:
    if not isinstance(ts, EdifactMessage) or ts.position is None:
        return []  # a message that does not say where it is cannot be pointed into
    start = ts.position
    pointers = {
        _Pointer(position - start + 1, p.location.element or 0)
        for p in problems
        if (position := p.location.position) is not None and ts.holds(position)
    }
    return sorted(pointers, key=lambda pointer: (pointer.position, pointer.element))


def _ucs_ucd(pointers: list[_Pointer]) -> Iterable[Segment]:
    positions = sorted({pointer.position for pointer in pointers})
    for position in positions:
        elements = [pointer.element for pointer in pointers if pointer.position == position]
        code = _UNSPECIFIED if 0 in elements else ""
        yield Segment("UCS", ((str(position),), (code,)))
        yield from (Segment("UCD", ((_INVALID_VALUE,), (str(element),))) for element in elements if element)


def _message_holding(transaction_sets: Sequence[TransactionSet], problem: Problem) -> TransactionSet | None:
    position = problem.location.position
    if position is None:
        return None
    return next((ts for ts in transaction_sets if isinstance(ts, EdifactMessage) and ts.holds(position)), None)


# --- envelope -----------------------------------------------------------------------------------


def _unb(
    sender: tuple[str, str],
    receiver: tuple[str, str],
    at: dt.datetime,
    control_number: int,
    *,
    test: bool = False,
) -> Segment:
    if not 0 < control_number <= _MAX_CONTROL_NUMBER:
        raise ValueError(f"control number {control_number} is not 1 to {_MAX_CONTROL_NUMBER}")
    utc = at.astimezone(dt.UTC)
    elements = [_SYNTAX, sender, receiver, (utc.strftime("%y%m%d"), utc.strftime("%H%M")), (str(control_number),)]
    if test:
        elements += [()] * 5 + [("1",)]  # 0035, after five elements we leave empty
    return Segment("UNB", tuple(elements))


def _message(reference: str, identifier: tuple[str, ...], body: list[Segment]) -> list[Segment]:
    unh = Segment("UNH", ((reference,), identifier))
    unt = Segment("UNT", ((str(len(body) + 2),), (reference,)))
    return [unh, *body, unt]


def _interchange(unb: Segment, message: list[Segment], control_number: int) -> bytes:
    unz = Segment("UNZ", (("1",), (str(control_number),)))
    segments = [_latin1(segment) for segment in [unb, *message, unz]]
    return render(segments).encode(_CHARSET)


def _latin1(segment: Segment) -> Segment:
    # A character UNOC cannot carry becomes "?" (escaped when written), not an encoding error.
    elements = tuple(tuple(c.encode(_CHARSET, "replace").decode(_CHARSET) for c in e) for e in segment.elements)
    return Segment(segment.tag, elements)


def _dtm(qualifier: str, date: dt.date) -> Segment:
    return Segment("DTM", ((qualifier, date.strftime("%Y%m%d"), "102"),))


def _nad(qualifier: str, party: str, name: str = "") -> Segment:
    # 3055 92: a code we (the buyer) assigned; C080 carries the name for people reading the order.
    return Segment("NAD", ((qualifier,), (party, "", "92"), (), ((name[:35],) if name else ())))


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")
