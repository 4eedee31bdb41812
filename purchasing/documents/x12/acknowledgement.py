"""The 855 Purchase Order Acknowledgement read into an ``AcknowledgementInput``.

Each PO1 repeats a line of the PO; the ACK segments after it say what becomes of it. Several
ACKs for one PO1 split the line into deliveries, each with its own quantity and date. A PO1
without an ACK takes the answer of the whole document (BAK02: accepted, or rejected).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from purchasing.documents.shapes import AcknowledgementInput, AcknowledgementLineInput, Location
from purchasing.documents.x12.elements import Elements
from purchasing.documents.x12.tokenizer import Segment

ACCEPT, REJECT, CHANGE = "accept", "reject", "change"
# ACK01 line status: accepted; rejected; accepted with changes (any, quantity, date, price); backordered.
LINE_ACTIONS = {"IA": ACCEPT, "IR": REJECT, "IC": CHANGE, "IQ": CHANGE, "DR": CHANGE, "IP": CHANGE, "IB": CHANGE}
BACKORDERED = "IB"
# ACK04: current schedule ship, current schedule delivery, estimated delivery.
DATE_QUALIFIERS = frozenset({"068", "067", "017"})
# BAK02, for the PO1s that have no ACK: the acknowledgement types that accept, and those that reject.
DOCUMENT_ACTIONS = {"AC": ACCEPT, "AD": ACCEPT, "AE": ACCEPT, "AK": ACCEPT, "AP": ACCEPT, "AT": ACCEPT}
DOCUMENT_ACTIONS |= {"RD": REJECT, "RJ": REJECT}
REASON_ELEMENT = 29  # ACK29, the industry code: partners put their reason code there


@dataclass(slots=True)
class _Line:
    po1: Segment
    number: int | None
    quantity: Decimal | None
    price: Decimal | None
    acks: int = 0
    # Optional for one ACK, needed by each ACK of a split (one delivery each).
    without_quantity: list[Segment] = field(default_factory=list)
    without_date: list[Segment] = field(default_factory=list)


class AcknowledgementMapper:
    def __init__(self, st: Segment, elements: Elements) -> None:
        self._st = st
        self._elements = elements
        self._bak: Segment | None = None
        self._po_number = ""
        self._line: _Line | None = None
        self._po1_count = 0
        self._answers: list[AcknowledgementLineInput] = []

    def feed(self, segment: Segment) -> None:
        match segment.tag:
            case "BAK":
                self._on_bak(segment)
            case "PO1":
                self._on_po1(segment)
            case "ACK":
                self._on_ack(segment)
            case "CTT":
                self._on_ctt(segment)

    def finish(self) -> AcknowledgementInput | None:
        self._close_line()
        if self._bak is None:
            self._elements.missing_segment("BAK", self._st, "The acknowledgement has no BAK segment.")
            return None
        if not self._po1_count:
            self._elements.missing_segment("PO1", self._st, "The acknowledgement has no PO1: answer each PO line.")
        if not self._po_number:
            return None
        return AcknowledgementInput(
            po_number=self._po_number,
            lines=tuple(self._answers),
            location=Location(segment="BAK", position=self._bak.position),
        )

    def _on_bak(self, bak: Segment) -> None:
        if self._bak is not None:
            self._elements.problem(bak, "An acknowledgement has one BAK segment.")
            return
        if self._po1_count:
            self._elements.problem(bak, "BAK must come before the first PO1.")
        self._bak = bak
        self._po_number = self._elements.text(bak, 3, "the PO number") or ""

    def _on_po1(self, po1: Segment) -> None:
        self._close_line()
        self._po1_count += 1
        self._line = _Line(
            po1,
            number=self._elements.integer(po1, 1, "the PO line number"),
            quantity=self._elements.decimal(po1, 2, "the quantity", required=False),
            price=self._elements.decimal(po1, 4, "the unit price", required=False),
        )

    def _on_ack(self, ack: Segment) -> None:
        line = self._line
        if line is None:
            self._elements.problem(ack, "ACK must follow the PO1 of the line it answers.")
            return
        line.acks += 1
        answer = self._answer(line, ack)
        if answer is not None:
            self._answers.append(answer)

    def _answer(self, line: _Line, ack: Segment) -> AcknowledgementLineInput | None:
        status = ack.element(1)
        action = LINE_ACTIONS.get(status)
        if action is None:
            message = f"Line status {status!r} is not one we take: IA, IR, IC, IQ, DR, IP or IB."
            self._elements.problem(ack, message, 1)
            return None
        if action == REJECT:
            return _rejection(line.number, ack)
        quantity = self._elements.decimal(ack, 2, "the quantity", required=False)
        date = self._promised_date(ack, status)
        if not ack.element(2):
            line.without_quantity.append(ack)
        if not ack.element(5):
            line.without_date.append(ack)
        if line.number is None:
            return None
        return AcknowledgementLineInput(
            line.number,
            action,
            quantity=line.quantity if quantity is None else quantity,
            unit_price=line.price,
            date=date,
            reason_code=ack.element(REASON_ELEMENT),
            location=Location(segment="ACK", position=ack.position),
        )

    def _promised_date(self, ack: Segment, status: str) -> dt.date | None:
        qualifier = ack.element(4)
        date = self._elements.date(ack, 5, "the promised date", required=False)
        if qualifier and qualifier not in DATE_QUALIFIERS:
            message = (
                f"The date qualifier must be 068 (ship), 067 (delivery) or 017 (estimated delivery), not {qualifier!r}."
            )
            self._elements.problem(ack, message, 4)
            return None
        if date is not None and not qualifier:
            self._elements.problem(ack, "The date needs its qualifier (ACK04: 068, 067 or 017).", 4)
        if status == BACKORDERED and not ack.element(5):
            self._elements.problem(ack, "A backordered line needs the date it will ship (ACK04 068, ACK05).", 5)
        return date

    def _close_line(self) -> None:
        line, self._line = self._line, None
        if line is None:
            return
        if line.acks > 1:
            for ack in line.without_quantity:
                self._elements.problem(ack, "Each ACK of a split line needs its quantity.", 2)
            for ack in line.without_date:
                self._elements.problem(ack, "Each ACK of a split line needs its date (ACK04 and ACK05).", 5)
        if not line.acks and line.number is not None:
            self._answer_from_document(line, line.number)

    def _answer_from_document(self, line: _Line, number: int) -> None:
        kind = self._bak.element(2) if self._bak else ""
        action = DOCUMENT_ACTIONS.get(kind)
        if action is None:
            self._elements.problem(line.po1, f"PO line {number} has no ACK segment saying what becomes of it.")
            return
        accepted = action == ACCEPT
        self._answers.append(
            AcknowledgementLineInput(
                number,
                action,
                quantity=line.quantity if accepted else None,
                unit_price=line.price if accepted else None,
                location=Location(segment="PO1", position=line.po1.position),
            )
        )

    def _on_ctt(self, ctt: Segment) -> None:
        stated = self._elements.integer(ctt, 1, "the number of PO1 segments")
        if stated is not None and stated != self._po1_count:
            self._elements.problem(ctt, f"CTT01 says {stated} PO1 segments; there are {self._po1_count}.", 1)


def _rejection(number: int | None, ack: Segment) -> AcknowledgementLineInput | None:
    if number is None:
        return None
    location = Location(segment="ACK", position=ack.position)
    return AcknowledgementLineInput(number, REJECT, reason_code=ack.element(REASON_ELEMENT), location=location)
