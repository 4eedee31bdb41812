"""ORDRSP (purchase order response) into an AcknowledgementInput, one segment at a time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from purchasing.documents.edifact import values
from purchasing.documents.edifact.syntax import Segment
from purchasing.documents.edifact.values import Problems
from purchasing.documents.shapes import AcknowledgementInput, AcknowledgementLineInput

ACCEPT, CHANGE, REJECT = "accept", "change", "reject"
# LIN 1229 action request code -> the line's answer.
_LINE_ACTIONS = {"5": ACCEPT, "3": CHANGE, "6": CHANGE, "7": REJECT, "2": REJECT}
# BGM 1225 message function -> the answer of lines without a 1229 (None: each line must give one).
_FUNCTIONS: dict[str, str | None] = {"29": ACCEPT, "4": CHANGE, "27": REJECT, "9": None, "": None}
# QTY 6063: the quantity the supplier answers (to be delivered, despatched), then the ordered one echoed.
_ANSWERED_QUANTITIES = ("113", "12", "21")
_PROMISED_DATES = ("69", "2")  # DTM 2005: promised for delivery, then delivery date requested
_REASON = "ACD"  # FTX 4451: reason


@dataclass
class _Delivery:
    quantity: Decimal | None = None
    date: dt.date | None = None


@dataclass
class _Line:
    lin: Segment
    action: str | None
    line_number: int | None
    quantities: dict[str, Decimal | None] = field(default_factory=dict)
    dates: dict[str, dt.date | None] = field(default_factory=dict)
    unit_price: Decimal | None = None
    deliveries: list[_Delivery] = field(default_factory=list)
    in_schedule: bool = False  # after an SCC, QTY and DTM describe one delivery each
    reason_code: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def quantity(self) -> Decimal | None:
        return next((self.quantities[q] for q in _ANSWERED_QUANTITIES if q in self.quantities), None)

    @property
    def date(self) -> dt.date | None:
        return next((self.dates[q] for q in _PROMISED_DATES if q in self.dates), None)


class OrdrspReader:
    """Reads one ORDRSP message; ``finish`` returns its AcknowledgementInput (None when it has problems).

    Several deliveries (SCC with QTY and DTM) for one line are a split: one AcknowledgementLineInput
    each. BGM 29 with no LIN accepts the whole order: an AcknowledgementInput with no lines.
    """

    def __init__(self, unh: Segment, problems: Problems) -> None:
        self._unh = unh
        self._problems = problems
        self._problems_before = len(problems.items)
        self._bgm: Segment | None = None
        self._default_action: str | None = None
        self._order: Segment | None = None  # the RFF+ON naming the PO
        self._notes: list[str] = []
        self._line: _Line | None = None
        self._line_count = 0
        self._summary = False
        self._answers: list[AcknowledgementLineInput] = []
        self._handlers: dict[str, Callable[[Segment], None]] = {
            "BGM": self._bgm_segment,
            "RFF": self._rff,
            "FTX": self._ftx,
            "LIN": self._lin,
            "QTY": self._qty,
            "DTM": self._dtm,
            "PRI": self._pri,
            "SCC": self._scc,
            "UNS": self._uns,
        }

    def feed(self, segment: Segment) -> None:
        handler = self._handlers.get(segment.tag)
        if handler is not None and not self._summary:
            handler(segment)

    def finish(self) -> AcknowledgementInput | None:
        self._close_line()
        self._check_header()
        if len(self._problems.items) > self._problems_before or self._order is None:
            return None
        return AcknowledgementInput(
            po_number=self._order.value(1, 2),
            lines=tuple(self._answers),
            note=" ".join(self._notes),
            location=self._order.location(1),
        )

    def _check_header(self) -> None:
        if self._bgm is None:
            self._problems.at(self._unh, "the order response has no BGM (message function)")
        if self._order is None:
            self._problems.at(self._unh, "the order response names no order (RFF+ON)")
        elif not self._order.value(1, 2):
            self._problems.at(self._order, "the order number (RFF+ON 1154) is missing", 1)
        if not self._line_count and self._bgm is not None and self._default_action != ACCEPT:
            # Only "accepted without amendment" may leave the lines out: it answers them all.
            self._problems.at(self._bgm, "the order response has no lines (LIN)", 3)

    # --- header ---------------------------------------------------------------------------

    def _bgm_segment(self, bgm: Segment) -> None:
        self._bgm = bgm
        function = bgm.value(3)
        if function not in _FUNCTIONS:
            self._problems.at(bgm, f"message function {function} is not supported (29, 4, 27 or 9)", 3)
        self._default_action = _FUNCTIONS.get(function)

    def _rff(self, rff: Segment) -> None:
        qualifier = rff.value(1, 1)
        if self._line is not None:
            self._line_reference(self._line, rff)
        elif qualifier == "ON" and self._order is None:
            self._order = rff

    def _ftx(self, ftx: Segment) -> None:
        text = " ".join(part for part in ftx.components(4) if part)
        if self._line is None:
            self._notes.append(text)
            return
        if ftx.value(1) == _REASON and ftx.value(3, 1):
            self._line.reason_code = ftx.value(3, 1)
        if text:
            self._line.notes.append(text)

    # --- lines ------------------------------------------------------------------------------

    def _lin(self, lin: Segment) -> None:
        self._close_line()
        code = lin.value(2)
        if code and code not in _LINE_ACTIONS:
            self._problems.at(lin, f"action code {code} is not supported (5 accept, 3 change, 7 or 2 reject)", 2)
        # Our ORDERS numbers each LIN with the PO line, so LIN 1082 is the line when no RFF+LI says otherwise.
        number = values.line_number(lin.value(1), lin, 1, self._problems) if lin.value(1) else None
        self._line = _Line(lin, _LINE_ACTIONS.get(code), number)
        self._line_count += 1

    def _line_reference(self, line: _Line, rff: Segment) -> None:
        qualifier, reference, number = rff.value(1, 1), rff.value(1, 2), rff.value(1, 3)
        if qualifier == "LI":
            line.line_number = values.line_number(reference, rff, 1, self._problems)
        elif qualifier == "ON":
            if self._order is not None and reference != self._order.value(1, 2):
                self._problems.at(
                    rff, f"the line answers order {reference}, the message order {self._order.value(1, 2)}", 1
                )
            if number:
                line.line_number = values.line_number(number, rff, 1, self._problems)

    def _qty(self, qty: Segment) -> None:
        line, qualifier = self._line, qty.value(1, 1)
        if line is None or qualifier not in _ANSWERED_QUANTITIES:
            return
        quantity = values.decimal(qty, 1, 2, self._problems, "the quantity")
        if line.in_schedule:
            line.deliveries.append(_Delivery(quantity))
        else:
            line.quantities.setdefault(qualifier, quantity)

    def _dtm(self, dtm: Segment) -> None:
        line, qualifier = self._line, dtm.value(1)
        if line is None or qualifier not in _PROMISED_DATES:
            return
        date = values.date(dtm, self._problems)
        if not line.in_schedule:
            line.dates.setdefault(qualifier, date)
        elif line.deliveries and (line.deliveries[-1].date is None or qualifier == "69"):
            line.deliveries[-1].date = date

    def _pri(self, pri: Segment) -> None:
        if self._line is None or pri.value(1, 1) != "AAA":
            return
        price = values.decimal(pri, 1, 2, self._problems, "the net price")
        basis = values.decimal(pri, 1, 5, self._problems, "the price basis") if pri.value(1, 5) else None
        if price is not None and basis:
            price /= basis  # a price per 100 or per 1000 units
        self._line.unit_price = price

    def _scc(self, scc: Segment) -> None:
        if self._line is not None:
            self._line.in_schedule = True

    def _uns(self, uns: Segment) -> None:
        self._close_line()
        self._summary = True

    def _close_line(self) -> None:
        line, self._line = self._line, None
        if line is None:
            return
        action = line.action or self._default_action
        if action is None:
            self._problems.at(line.lin, "the line has no action code (LIN 1229) and BGM gives none", 2)
        elif self._default_action == ACCEPT and action != ACCEPT:
            self._problems.at(line.lin, f"BGM says accepted without amendment, the line says {action}", 2)
        if line.line_number is None:
            self._problems.at(line.lin, "the line names no PO line (LIN 1082 or RFF+LI)", 1)
        if action is not None and line.line_number is not None:
            self._answers.extend(self._line_answers(line, line.line_number, action))

    def _line_answers(self, line: _Line, number: int, action: str) -> list[AcknowledgementLineInput]:
        note = " ".join(line.notes)
        location = line.lin.location()
        if action == REJECT:
            return [
                AcknowledgementLineInput(number, REJECT, reason_code=line.reason_code, note=note, location=location)
            ]
        deliveries = line.deliveries or [_Delivery(line.quantity, line.date)]
        if action == CHANGE and not line.deliveries and (line.quantity, line.date, line.unit_price) == (None,) * 3:
            self._problems.at(line.lin, "a changed line needs its quantity (QTY), date (DTM) or price (PRI)", 2)
        return [
            AcknowledgementLineInput(
                number,
                action,
                quantity=d.quantity,
                unit_price=line.unit_price,
                date=d.date or line.date,
                reason_code=line.reason_code,
                note=note,
                location=location,
            )
            for d in deliveries
        ]
