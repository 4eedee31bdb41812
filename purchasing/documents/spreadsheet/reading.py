"""Reading a CSV file or an Excel workbook: its records, its header, and each row handed to a builder."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator, Sequence
from typing import BinaryIO, Protocol

import openpyxl

from config import uploads
from purchasing.documents.shapes import DocumentError, DocumentFormat, DocumentKind, Location, ParsedDocument, Problem
from purchasing.documents.spreadsheet.acknowledgements import _AcknowledgementBuilder
from purchasing.documents.spreadsheet.layouts import _Layout, _layout
from purchasing.documents.spreadsheet.rows import _Problems, _Row
from purchasing.documents.spreadsheet.shipments import _ShipmentBuilder
from purchasing.documents.spreadsheet.values import Cell, _is_blank, _text_of

MAX_ROWS = 50_000
# Far above what MAX_ROWS rows need; refuses a zip bomb before openpyxl unpacks it.
MAX_XLSX_UNPACKED_BYTES = 256 * 1024 * 1024
_MAX_HEADER_CHARS = 10_000

# Text has no control characters but tab and line ends; a header with one is a binary file (a zip, an .xls).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse_csv(stream: BinaryIO, *, kind: DocumentKind) -> ParsedDocument:
    """The document in a UTF-8 CSV file (BOM optional, comma or semicolon delimited); DocumentError if malformed.

    ``kind`` is SHIP_NOTICE or ACKNOWLEDGEMENT; another kind has no layout (ValueError). The stream stays open.
    """
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        delimiter, records = _csv_records(text)
        return _parse(records, kind=kind, fmt=DocumentFormat.CSV, decimal_comma=delimiter == ";")
    except UnicodeDecodeError:
        raise DocumentError(
            Problem("The file is not UTF-8 text. Upload an Excel workbook as Excel, or save it as CSV UTF-8.")
        ) from None
    finally:
        # The caller owns the stream: closing the wrapper must not close it.
        text.detach()


def parse_xlsx(stream: BinaryIO, *, kind: DocumentKind) -> ParsedDocument:
    """The document on the first sheet of an Excel .xlsx workbook; DocumentError if malformed."""
    _check_unpacked_size(stream)
    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    # openpyxl's failures on a damaged or hostile file are no documented set of exceptions.
    except Exception:
        raise DocumentError(Problem("The file is not an Excel .xlsx workbook we can read.")) from None
    try:
        return _parse(_xlsx_records(workbook), kind=kind, fmt=DocumentFormat.XLSX)
    finally:
        workbook.close()


# --- reading records ---------------------------------------------------------------------


def _csv_records(text: io.TextIOWrapper) -> tuple[str, Iterator[Sequence[Cell]]]:
    header = text.readline(_MAX_HEADER_CHARS)
    if _CONTROL.search(header):
        raise DocumentError(Problem("The file holds binary data, not CSV text. Upload an Excel workbook as Excel."))
    if header and not header.endswith(("\n", "\r")) and len(header) >= _MAX_HEADER_CHARS:
        raise DocumentError(Problem("The header row is too long: is this a CSV file?", Location(row=1)))
    # Header names hold neither character, so whichever the header uses more is the delimiter.
    delimiter = ";" if header.count(";") > header.count(",") else ","
    return delimiter, _checked_csv(csv.reader(itertools.chain([header], text), delimiter=delimiter))


def _checked_csv(reader: Iterator[list[str]]) -> Iterator[Sequence[Cell]]:
    try:
        yield from reader
    except csv.Error as error:
        raise DocumentError(Problem(f"The file is not valid CSV: {error}.")) from None


def _check_unpacked_size(stream: BinaryIO) -> None:
    problem = uploads.xlsx_problem(stream, max_unpacked=MAX_XLSX_UNPACKED_BYTES)
    if problem:
        raise DocumentError(Problem(problem))


def _xlsx_records(workbook: openpyxl.Workbook) -> Iterator[Sequence[Cell]]:
    try:
        sheet = workbook.worksheets[0]
        # Writers other than Excel often get the stored dimensions wrong; ignoring them reads every cell.
        sheet.reset_dimensions()
        yield from sheet.iter_rows(values_only=True)
    except Exception:
        raise DocumentError(Problem("The workbook is damaged: its first sheet cannot be read.")) from None


# --- rows, headers and problems ----------------------------------------------------------


class _Builder(Protocol):
    def add(self, row: _Row) -> None: ...

    def build(self, fmt: DocumentFormat) -> ParsedDocument: ...


def _parse(
    records: Iterator[Sequence[Cell]], *, kind: DocumentKind, fmt: DocumentFormat, decimal_comma: bool = False
) -> ParsedDocument:
    layout = _layout(kind, decimal_comma=decimal_comma)
    header = next(records, None)
    if header is None or all(_is_blank(cell) for cell in header):
        raise DocumentError(Problem("The file is empty: it needs a header row and one row per line."))
    names = _header(header, layout)
    problems = _Problems()
    builder = _builder(kind, problems)
    count = 0
    for number, record in enumerate(records, start=2):
        if all(_is_blank(cell) for cell in record):
            continue
        count += 1
        if count > MAX_ROWS:
            # Checks across rows of a file cut short would report the rows not read as missing.
            problems.add(f"The file has more than {MAX_ROWS:,} rows: split it into several files.", row=number)
            problems.raise_if_any()
        builder.add(_Row(number, _cells(record, names, number, problems), layout, problems))
    if count == 0:
        problems.add("The file has a header row but no rows below it.", row=1)
        problems.raise_if_any()
    # The builder checks what spans rows (packages, splits) and raises every problem found.
    return builder.build(fmt)


def _header(cells: Sequence[Cell], layout: _Layout) -> list[str]:
    names = ["" if _is_blank(cell) else _text_of(cell).lower() for cell in cells]
    while names and not names[-1]:
        names.pop()
    known = [c.name for c in layout.columns]
    problems = _Problems()
    for name, message in _header_problems(names, layout, known):
        problems.add(message, row=1, column=name)
    problems.raise_if_any()
    return names


def _header_problems(names: list[str], layout: _Layout, known: list[str]) -> Iterator[tuple[str, str]]:
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name:
            yield "", f"Column {position} of the header has no name."
        elif name not in known:
            yield name[:40], f"Unknown column {name[:40]!r}. The columns are: {', '.join(known)}."
        elif name in seen:
            yield name, f"Column {name} appears twice."
        seen.add(name)
    for column in layout.columns:
        if column.required and column.name not in names:
            yield column.name, f"Required column {column.name} is missing."
    other = _layout(
        DocumentKind.ACKNOWLEDGEMENT if layout.kind == DocumentKind.SHIP_NOTICE else DocumentKind.SHIP_NOTICE
    )
    if not set(names) <= set(known) and set(names) <= {c.name for c in other.columns}:
        yield "", f"These are the columns of {other.description}: upload the file as one."


def _cells(record: Sequence[Cell], names: list[str], number: int, problems: _Problems) -> dict[str, Cell]:
    for position in range(len(names), len(record)):
        if not _is_blank(record[position]):
            problems.add(f"The row has a value in column {position + 1}, which has no header.", row=number)
            break
    return dict(zip(names, record, strict=False))


def _builder(kind: DocumentKind, problems: _Problems) -> _Builder:
    return _ShipmentBuilder(problems) if kind == DocumentKind.SHIP_NOTICE else _AcknowledgementBuilder(problems)
