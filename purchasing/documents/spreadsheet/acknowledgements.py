"""Acknowledgements from rows: each PO's answers by line, and the checks of a line split into deliveries."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from purchasing.documents.shapes import (
    AcknowledgementInput,
    AcknowledgementLineInput,
    DocumentFormat,
    DocumentKind,
    Location,
    ParsedDocument,
)
from purchasing.documents.spreadsheet.columns import ACTIONS
from purchasing.documents.spreadsheet.rows import _Agreeing, _Problems, _Row
from purchasing.documents.spreadsheet.values import _as_choice, _as_date, _as_line_number

_CHANGE_FIELDS = ("quantity", "unit_price", "promised_date")


@dataclass
class _Answers:
    row: int
    lines: dict[int, list[AcknowledgementLineInput]] = field(default_factory=dict)
    agreeing: dict[int, _Agreeing] = field(default_factory=dict)


class _AcknowledgementBuilder:
    def __init__(self, problems: _Problems) -> None:
        self.problems = problems
        self.orders: dict[str, _Answers] = {}
        self.unreadable: dict[int, set[str]] = {}  # row -> columns with a problem, which split checks don't repeat

    def add(self, row: _Row) -> None:
        po_number = row.text("po_number", required=True)
        line_number = row.value("po_line", _as_line_number, required=True)
        action = row.value("action", _as_choice(ACTIONS), required=True)
        answer = AcknowledgementLineInput(
            line_number=line_number or 0,
            action=action or "",
            quantity=row.decimal("quantity", places=3, positive=True),
            unit_price=row.decimal("unit_price", places=4, positive=False),
            date=row.value("promised_date", _as_date),
            reason_code=row.text("reason_code"),
            note=row.text("note"),
            location=Location(row=row.number),
        )
        _check_action(row, answer)
        if not po_number or line_number is None or action is None:
            return
        answers = self.orders.setdefault(po_number, _Answers(row.number))
        answers.lines.setdefault(line_number, []).append(answer)
        agreeing = answers.agreeing.setdefault(line_number, _Agreeing(f"line {line_number} of PO {po_number}"))
        agreeing.check(row, "unit_price", answer.unit_price)
        agreeing.check(row, "reason_code", answer.reason_code)
        if row.bad:
            self.unreadable[row.number] = row.bad

    def build(self, fmt: DocumentFormat) -> ParsedDocument:
        for po_number, answers in self.orders.items():
            for line_number, split in answers.lines.items():
                if len(split) > 1:
                    self._check_split(po_number, line_number, split)
        self.problems.raise_if_any()
        acknowledgements = tuple(
            AcknowledgementInput(
                po_number=po_number,
                lines=tuple(itertools.chain.from_iterable(answers.lines.values())),
                location=Location(row=answers.row),
            )
            for po_number, answers in self.orders.items()
        )
        return ParsedDocument(format=fmt, kind=DocumentKind.ACKNOWLEDGEMENT, acknowledgements=acknowledgements)

    def _check_split(self, po_number: str, line_number: int, split: list[AcknowledgementLineInput]) -> None:
        why = f"Line {line_number} of PO {po_number} has several rows, splitting it into deliveries"
        for answer in split:
            row = answer.location.row or 0
            unreadable = self.unreadable.get(row, set())
            if answer.action != "change":
                self.problems.add(f"{why}: each row must be a change.", row=row, column="action")
            if answer.quantity is None and "quantity" not in unreadable:
                self.problems.add(f"{why}: each row needs its quantity.", row=row, column="quantity")
            if answer.date is None and "promised_date" not in unreadable:
                self.problems.add(f"{why}: each row needs its promised_date.", row=row, column="promised_date")


def _check_action(row: _Row, answer: AcknowledgementLineInput) -> None:
    if answer.action in ("accept", "reject"):
        what = (
            "An accept keeps the PO's quantity, price and date"
            if answer.action == "accept"
            else "A reject changes nothing"
        )
        for column in _CHANGE_FIELDS:
            if not row.blank(column):
                row.problem(column, f"{what}: leave {column} blank, or answer change.")
    if answer.action == "reject" and not answer.reason_code and "reason_code" not in row.bad:
        row.problem("reason_code", "A reject needs a reason_code, e.g. OUT_OF_STOCK.")
    if answer.action == "change" and all(row.blank(column) for column in _CHANGE_FIELDS):
        row.problem("action", "A change needs a new quantity, unit_price or promised_date.")
