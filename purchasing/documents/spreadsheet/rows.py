"""A data row read by column name, the problems found on the way, and values that rows must repeat."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from purchasing.documents.shapes import DocumentError, Location, Problem
from purchasing.documents.spreadsheet.layouts import _Layout
from purchasing.documents.spreadsheet.values import Cell, _as_decimal, _as_text, _Invalid, _is_blank

MAX_LISTED_PROBLEMS = 1_000


class _Problems:
    """Every problem found, the first MAX_LISTED_PROBLEMS kept: a wrong column in 50,000 rows is 50,000 problems."""

    def __init__(self) -> None:
        self.listed: list[Problem] = []
        self.unlisted = 0

    def add(self, message: str, *, row: int | None = None, column: str = "") -> None:
        if len(self.listed) < MAX_LISTED_PROBLEMS:
            self.listed.append(Problem(message, Location(row=row, column=column)))
        else:
            self.unlisted += 1

    def raise_if_any(self) -> None:
        if self.unlisted:
            self.listed.append(Problem(f"... and {self.unlisted} more problems."))
        if self.listed:
            raise DocumentError(self.listed)


class _Row:
    """One data row's cells by column name; reading a value records any problem where it is."""

    def __init__(self, number: int, cells: dict[str, Cell], layout: _Layout, problems: _Problems) -> None:
        self.number = number
        self.cells = cells
        self.layout = layout
        self.problems = problems
        self.bad: set[str] = set()  # columns whose value could not be read

    def problem(self, column: str, message: str) -> None:
        self.bad.add(column)
        self.problems.add(message, row=self.number, column=column)

    def blank(self, column: str) -> bool:
        return _is_blank(self.cells.get(column))

    def value[T](self, column: str, convert: Callable[[Cell], T], *, required: bool = False) -> T | None:
        cell = self.cells.get(column)
        if _is_blank(cell):
            if required:
                self.problem(column, f"{column} is required.")
            return None
        try:
            return convert(cell)
        except _Invalid as error:
            self.problem(column, str(error))
            return None

    def text(self, column: str, *, required: bool = False) -> str:
        limit = self.layout.max_lengths[column]
        return self.value(column, lambda cell: _as_text(cell, limit), required=required) or ""

    def decimal(self, column: str, *, places: int, positive: bool, required: bool = False) -> Decimal | None:
        comma = self.layout.decimal_comma
        return self.value(column, lambda cell: _as_decimal(cell, places, positive, comma), required=required)


def _shown(value: object) -> str:
    if value is None or value == "":
        return "blank"
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)


@dataclass
class _Agreeing:
    """Values every row naming the same thing must repeat: the first row's, and which row that was."""

    what: str
    first: dict[str, tuple[object, int]] = field(default_factory=dict)

    def check(self, row: _Row, column: str, value: object) -> None:
        if column in row.bad:
            return
        seen, where = self.first.setdefault(column, (value, row.number))
        if seen != value:
            row.problem(
                column,
                f"{_shown(value)} differs from {_shown(seen)} in row {where}: "
                f"every row of {self.what} gives the same {column}.",
            )
