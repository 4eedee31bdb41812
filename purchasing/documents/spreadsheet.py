"""CSV and Excel uploads of ship notices (ASNs) and acknowledgements, and the templates to fill in.

Both layouts have one row per line under a header row: in a CSV file, UTF-8 with or without a
BOM, delimited by commas or semicolons (whichever the header uses); in an .xlsx workbook, on its
first sheet. Header names are matched without regard to case or surrounding spaces; columns may
come in any order; optional columns may be left out; a column the layout does not know is
refused. Blank rows are skipped (they still count in row numbers). Dates are ``YYYY-MM-DD`` or
Excel date cells. Numbers are plain decimals with a dot (``12.5``; no thousands separators); in
a CSV file delimited by semicolons, as Excel writes it where the comma is the decimal mark,
``12,5`` is read as 12.5 too. Excel number cells are read as Excel shows them, to 15 significant
digits, so 12.5 stays exactly 12.5.

A file is read whole or not at all: every problem is reported with its row (the header is row 1)
and column, and nothing is built. Problems that span rows (packages, splits) are looked for only
where the rows involved could be read, so as not to report the knock-on effects of another.

Ship notice layout (``DocumentKind.SHIP_NOTICE``); "required" columns must be in the header:

================== ======== ================================================================
column             required value
================== ======== ================================================================
asn_number         yes      every row: up to 30 letters, digits, ``. _ / -``; rows with the
                            same number form one ship notice (several per file are fine)
ship_date          yes      every row: date
estimated_arrival  no       date, not before ship_date
carrier_scac       no       2 to 4 letters (read in capitals)
carrier_name       no       text, up to 100 characters
tracking_number    no       text, up to 50
ship_from          no       text, up to 1000
bill_of_lading     no       text, up to 50
ship_to_site       no       the ship-to site code, up to 20
po_number          yes      line rows: the PO number, up to 30
po_line            yes      line rows: the PO line number, a whole number from 1
item_sku           no       the buyer's item number of the line, up to 40 (checked against it)
quantity           yes      line rows: shipped quantity, more than 0, at most 3 decimals
lot_number         no       up to 40
expiry_date        no       date
package_ref        no       your name for the innermost package holding the line, up to 50;
                            blank: the line ships loose
package_type       no       pallet, carton or package (blank: carton)
package_sscc       no       the package's SSCC: 18 digits, "(00)" and spaces allowed; a text
                            cell in Excel (blank: Supplyline numbers it)
parent_package_ref no       the package_ref of the package holding this one (blank: none)
================== ======== ================================================================

The header columns (ship_date to ship_to_site) must be the same on every row of a ship notice,
and a package's type, SSCC and parent the same on every row naming it. A package that holds no
line directly (a pallet of cartons) is declared by a row with its package columns and blank
po_number, po_line and quantity. A parent package must be declared in the same ship notice.

Acknowledgement layout (``DocumentKind.ACKNOWLEDGEMENT``); rows with the same po_number form one
acknowledgement:

============= ======== ===================================================================
column        required value
============= ======== ===================================================================
po_number     yes      every row: the PO number, up to 30
po_line       yes      every row: the PO line number, a whole number from 1
action        yes      every row: accept, reject or change
quantity      no       change: the new quantity (of this delivery, in a split), more than 0
unit_price    no       change: the new unit price, 0 or more, at most 4 decimals
promised_date no       change: the date this quantity will be delivered
reason_code   no       reject: required, e.g. OUT_OF_STOCK; up to 30
note          no       text, up to 2000
============= ======== ===================================================================

An accept or reject leaves quantity, unit_price and promised_date blank. Several rows for the
same PO line split it: each row is a change giving one delivery's quantity and promised_date,
and the rows repeat the same unit_price and reason_code.

Limits: at most 50,000 rows that are not blank (``MAX_ROWS``); an Excel file unpacks to at most
256 MB (``MAX_XLSX_UNPACKED_BYTES``); the first 1,000 problems are listed and the rest counted
(``MAX_LISTED_PROBLEMS``).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import itertools
import math
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import BinaryIO, Literal, Protocol, cast

import openpyxl
from django.core.exceptions import ValidationError
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from purchasing import gs1
from purchasing.documents.shapes import (
    AcknowledgementInput,
    AcknowledgementLineInput,
    DocumentError,
    DocumentFormat,
    DocumentKind,
    Location,
    PackageInput,
    ParsedDocument,
    Problem,
    ShipmentInput,
    ShipmentLineInput,
)
from purchasing.models.shipments import asn_number_validator, scac_validator

MAX_ROWS = 50_000
MAX_LISTED_PROBLEMS = 1_000
# Far above what MAX_ROWS rows need; refuses a zip bomb before openpyxl unpacks it.
MAX_XLSX_UNPACKED_BYTES = 256 * 1024 * 1024
_MAX_HEADER_CHARS = 10_000
_DEFAULT_MAX_CHARS = 1_000

type Cell = str | int | float | bool | dt.datetime | dt.date | dt.time | dt.timedelta | Decimal | None

PACKAGE_KINDS = ("pallet", "carton", "package")
ACTIONS = ("accept", "reject", "change")


@dataclass(frozen=True)
class Column:
    name: str
    required: bool  # must be in the header
    format: str
    description: str
    max_length: int = _DEFAULT_MAX_CHARS
    cell: Literal["text", "date", "number"] = "text"  # how the Excel template formats the column


_DATE_CELL: Literal["date"] = "date"
_NUMBER_CELL: Literal["number"] = "number"

ASN_COLUMNS = (
    Column("asn_number", True, "text, up to 30", "Ship notice number; rows with the same number are one notice.", 30),
    Column("ship_date", True, "date YYYY-MM-DD", "Date the goods leave you.", cell=_DATE_CELL),
    Column("estimated_arrival", False, "date YYYY-MM-DD", "Expected arrival at the ship-to site.", cell=_DATE_CELL),
    Column("carrier_scac", False, "2 to 4 letters", "Carrier's SCAC code, e.g. UPSN.", 4),
    Column("carrier_name", False, "text, up to 100", "Carrier's name.", 100),
    Column("tracking_number", False, "text, up to 50", "Carrier's tracking number.", 50),
    Column("ship_from", False, "text, up to 1000", "Address the goods ship from."),
    Column("bill_of_lading", False, "text, up to 50", "Bill of lading number.", 50),
    Column("ship_to_site", False, "text, up to 20", "Ship-to site code of the POs.", 20),
    Column("po_number", True, "text, up to 30", "PO number; blank only on a row declaring a package.", 30),
    Column(
        "po_line", True, "whole number", "PO line number; blank only on a row declaring a package.", cell=_NUMBER_CELL
    ),
    Column("item_sku", False, "text, up to 40", "Buyer's item number of the line (checked against the PO).", 40),
    Column(
        "quantity",
        True,
        "number > 0, 3 decimals",
        "Quantity shipped; blank only on a row declaring a package.",
        cell=_NUMBER_CELL,
    ),
    Column("lot_number", False, "text, up to 40", "Lot or batch.", 40),
    Column("expiry_date", False, "date YYYY-MM-DD", "Expiry date of the lot.", cell=_DATE_CELL),
    Column("package_ref", False, "text, up to 50", "Your name for the innermost package holding the line.", 50),
    Column("package_type", False, "pallet, carton or package", "Type of package_ref (blank: carton)."),
    Column("package_sscc", False, "18 digits, as text", "SSCC of package_ref (blank: Supplyline numbers it)."),
    Column("parent_package_ref", False, "text, up to 50", "package_ref of the package holding this one.", 50),
)
ACKNOWLEDGEMENT_COLUMNS = (
    Column("po_number", True, "text, up to 30", "PO number; rows with the same PO are one acknowledgement.", 30),
    Column(
        "po_line",
        True,
        "whole number",
        "PO line number; several rows for one line split it into deliveries.",
        cell=_NUMBER_CELL,
    ),
    Column("action", True, "accept, reject or change", "Your answer for the line."),
    Column(
        "quantity",
        False,
        "number > 0, 3 decimals",
        "Change: the new quantity (in a split: of this delivery).",
        cell=_NUMBER_CELL,
    ),
    Column("unit_price", False, "number >= 0, 4 decimals", "Change: the new unit price.", cell=_NUMBER_CELL),
    Column("promised_date", False, "date YYYY-MM-DD", "Change: when you deliver this quantity.", cell=_DATE_CELL),
    Column("reason_code", False, "text, up to 30", "Reject: why, e.g. OUT_OF_STOCK, DISCONTINUED, CAPACITY.", 30),
    Column("note", False, "text, up to 2000", "A note for the buyer.", 2000),
)
_ASN_HEADER_FIELDS = (
    "ship_date",
    "estimated_arrival",
    "carrier_scac",
    "carrier_name",
    "tracking_number",
    "ship_from",
    "bill_of_lading",
    "ship_to_site",
)
_LINE_FIELDS = ("po_number", "po_line", "quantity")
_CHANGE_FIELDS = ("quantity", "unit_price", "promised_date")


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


def template_csv(kind: DocumentKind) -> bytes:
    """A CSV template: the header and an example (with a BOM, so Excel reads it as UTF-8)."""
    layout = _layout(kind)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.name for c in layout.columns])
    for example in layout.examples:
        writer.writerow([_example_text(example.get(c.name)) for c in layout.columns])
    return out.getvalue().encode("utf-8-sig")


def template_xlsx(kind: DocumentKind) -> bytes:
    """An Excel template: a bold header and an example on the first sheet, column instructions on the second."""
    layout = _layout(kind)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = layout.sheet_title
    _write_examples(sheet, layout)
    _write_instructions(workbook.create_sheet("Instructions"), layout)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


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
    try:
        with zipfile.ZipFile(stream) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    # Not only BadZipFile: a damaged central directory can fail in other ways.
    except Exception:
        raise DocumentError(
            Problem("The file is not an Excel .xlsx workbook. Upload a CSV file as CSV; save .xls files as .xlsx.")
        ) from None
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise DocumentError(Problem("The workbook is too large: split it into several files."))
    stream.seek(0)


def _xlsx_records(workbook: openpyxl.Workbook) -> Iterator[Sequence[Cell]]:
    try:
        sheet = workbook.worksheets[0]
        # Writers other than Excel often get the stored dimensions wrong; ignoring them reads every cell.
        sheet.reset_dimensions()
        yield from sheet.iter_rows(values_only=True)
    except Exception:
        raise DocumentError(Problem("The workbook is damaged: its first sheet cannot be read.")) from None


# --- rows, headers and problems ----------------------------------------------------------


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


class _Invalid(Exception):
    """A cell that does not hold what its column needs; the message says what it should hold."""


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


@dataclass(frozen=True)
class _Layout:
    kind: DocumentKind
    columns: tuple[Column, ...]
    description: str  # "a ship notice", for messages
    sheet_title: str
    examples: tuple[dict[str, Cell], ...]
    decimal_comma: bool = False

    @functools.cached_property
    def max_lengths(self) -> dict[str, int]:
        return {c.name: c.max_length for c in self.columns}


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


def _is_blank(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


# --- cell values -------------------------------------------------------------------------

# Text has no control characters but tab and line ends; a header with one is a binary file (a zip, an .xls).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DECIMAL_TEXT = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_WHOLE = re.compile(r"[0-9]+")
_MAX_INT = 2_147_483_647  # what a PositiveIntegerField holds


def _text_of(cell: Cell) -> str:
    if isinstance(cell, float):
        return _float_text(cell)
    if isinstance(cell, dt.datetime) and cell.time() == dt.time():
        return cell.date().isoformat()
    if isinstance(cell, dt.date):
        return cell.isoformat()
    return str(cell).strip()


def _preview(cell: Cell) -> str:
    """The cell as a message quotes it: a long value cut short."""
    return repr(_text_of(cell)[:40])


def _as_text(cell: Cell, max_length: int) -> str:
    text = _text_of(cell)
    if len(text) > max_length:
        raise _Invalid(f"At most {max_length} characters, not {len(text)}.")
    return text


def _float_text(value: float) -> str:
    # Excel keeps 15 significant digits: beyond them a float holds binary noise (12.499999999999998).
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".15g")


def _as_decimal(cell: Cell, places: int, positive: bool, decimal_comma: bool) -> Decimal:
    number = _decimal_of(cell, decimal_comma)
    if abs(number) >= 10 ** (14 - places):
        raise _Invalid(f"{_preview(cell)} is too large.")
    if number != number.quantize(Decimal(10) ** -places):
        raise _Invalid(f"{_preview(cell)} has more than {places} decimal places.")
    if positive and number <= 0:
        raise _Invalid(f"Must be more than zero, not {number:f}.")
    if number < 0:
        raise _Invalid(f"Cannot be negative ({number:f}).")
    return number


def _decimal_of(cell: Cell, decimal_comma: bool) -> Decimal:
    if isinstance(cell, bool) or not isinstance(cell, str | int | float | Decimal):
        raise _Invalid(f"{_preview(cell)} is not a number.")
    if isinstance(cell, float) and not math.isfinite(cell):
        raise _Invalid(f"{_preview(cell)} is not a number.")
    text = _text_of(cell)
    if decimal_comma and "." not in text:
        text = text.replace(",", ".", 1)
    if isinstance(cell, str) and not _DECIMAL_TEXT.fullmatch(text):
        raise _Invalid(f"{_preview(cell)} is not a number: write it like 12.5, without thousands separators.")
    return Decimal(text)


def _as_line_number(cell: Cell) -> int:
    text = _text_of(cell)
    # The length check comes first: int() refuses strings of over 4,300 digits with a ValueError.
    if isinstance(cell, bool) or not (len(text) <= 10 and _WHOLE.fullmatch(text)) or not 0 < int(text) <= _MAX_INT:
        raise _Invalid(f"{_preview(cell)} is not a line number: a whole number from 1.")
    return int(text)


def _as_date(cell: Cell) -> dt.date:
    if isinstance(cell, dt.datetime):
        if cell.time() != dt.time():
            raise _Invalid(f"{cell.isoformat(sep=' ')} has a time of day: give the date only.")
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    text = _text_of(cell)
    if not isinstance(cell, str) or not _ISO_DATE.fullmatch(text):
        raise _Invalid(f"{_preview(cell)} is not a date: write YYYY-MM-DD, or format the cell as a date.")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _Invalid(f"{text!r} is not a date in the calendar.") from None


def _as_choice(choices: tuple[str, ...]) -> Callable[[Cell], str]:
    def convert(cell: Cell) -> str:
        text = _text_of(cell).lower()
        if text not in choices:
            raise _Invalid(f"{_preview(cell)} is not one of {', '.join(choices)}.")
        return text

    return convert


def _validated(validator: Callable[[str], None], max_length: int, upper: bool = False) -> Callable[[Cell], str]:
    def convert(cell: Cell) -> str:
        text = _as_text(cell, max_length)
        try:
            validator(text.upper() if upper else text)
        except ValidationError as error:
            raise _Invalid(" ".join(error.messages)) from None
        return text.upper() if upper else text

    return convert


def _as_sscc(cell: Cell) -> str:
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        raise _Invalid(
            "The SSCC is a number to Excel, which drops its leading zeros and keeps only 15 digits: "
            "format the column as text and enter it again."
        )
    try:
        return gs1.validate_sscc(_as_text(cell, 40))
    except ValidationError as error:
        raise _Invalid(" ".join(error.messages)) from None


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


# --- ship notices ------------------------------------------------------------------------


@dataclass
class _Package:
    input: PackageInput  # as its first row gives it
    agreeing: _Agreeing
    holds_something: bool = False

    @property
    def parent_ref(self) -> str | None:
        return self.input.parent_ref


@dataclass
class _Shipment:
    number: str
    row: int
    agreeing: _Agreeing
    # False once a row of it had a problem: what that row would have added (a line, a child
    # package) is missing, so checks across its rows would only report knock-on problems.
    complete: bool = True
    header: dict[str, object] = field(default_factory=dict)
    packages: dict[str, _Package] = field(default_factory=dict)
    lines: list[ShipmentLineInput] = field(default_factory=list)


class _ShipmentBuilder:
    def __init__(self, problems: _Problems) -> None:
        self.problems = problems
        self.shipments: dict[str, _Shipment] = {}
        self.ssccs: dict[str, tuple[str, int]] = {}  # SSCC -> package ref, row: unique in the file
        self.unassigned = False  # a row without a readable asn_number may belong to any ship notice

    def add(self, row: _Row) -> None:
        number = row.value("asn_number", _validated(asn_number_validator, 30), required=True)
        header = self._header(row)
        package = self._package(row)
        line = self._line(row, package)
        if number is None:
            self.unassigned = True
            return
        shipment = self.shipments.setdefault(number, _Shipment(number, row.number, _Agreeing(f"ship notice {number}")))
        for column, value in header.items():
            shipment.agreeing.check(row, column, value)
            shipment.header.setdefault(column, value)
        if package is not None:
            self._add_package(shipment, row, package)
        if line is not None:
            shipment.lines.append(line)
        shipment.complete &= not row.bad

    def _header(self, row: _Row) -> dict[str, object]:
        header: dict[str, object] = {
            "ship_date": row.value("ship_date", _as_date, required=True),
            "estimated_arrival": row.value("estimated_arrival", _as_date),
            "carrier_scac": row.value("carrier_scac", _validated(scac_validator, 4, upper=True)) or "",
        }
        header |= {column: row.text(column) for column in _ASN_HEADER_FIELDS[3:]}
        ship, arrival = header["ship_date"], header["estimated_arrival"]
        if isinstance(ship, dt.date) and isinstance(arrival, dt.date) and arrival < ship:
            row.problem("estimated_arrival", f"The estimated arrival {arrival} is before the ship date {ship}.")
        return header

    def _package(self, row: _Row) -> PackageInput | None:
        ref = row.text("package_ref")
        kind = row.value("package_type", _as_choice(PACKAGE_KINDS)) or "carton"
        sscc = row.value("package_sscc", _as_sscc) or ""
        parent = row.text("parent_package_ref") or None
        if not ref:
            for column in ("package_type", "package_sscc", "parent_package_ref"):
                if not row.blank(column):
                    row.problem(column, f"{column} needs the package_ref of the package it describes.")
            return None
        if parent == ref:
            row.problem("parent_package_ref", f"Package {ref} cannot hold itself.")
        return PackageInput(ref=ref, kind=kind, sscc=sscc, parent_ref=parent, location=Location(row=row.number))

    def _line(self, row: _Row, package: PackageInput | None) -> ShipmentLineInput | None:
        if all(row.blank(column) for column in _LINE_FIELDS):
            if package is None:
                row.problem(
                    "po_number", "The row gives neither a PO line (po_number, po_line, quantity) nor a package."
                )
            for column in ("item_sku", "lot_number", "expiry_date"):
                if not row.blank(column):
                    row.problem(column, f"{column} belongs on a row with a PO line; this row declares a package.")
            return None
        po_number = row.text("po_number", required=True)
        line_number = row.value("po_line", _as_line_number, required=True)
        quantity = row.decimal("quantity", places=3, positive=True, required=True)
        item_sku, lot_number = row.text("item_sku"), row.text("lot_number")
        expiry_date = row.value("expiry_date", _as_date)
        if not po_number or line_number is None or quantity is None:
            return None
        return ShipmentLineInput(
            po_number=po_number,
            line_number=line_number,
            quantity=quantity,
            package_ref=package.ref if package is not None else None,
            item_sku=item_sku,
            lot_number=lot_number,
            expiry_date=expiry_date,
            location=Location(row=row.number),
        )

    def _add_package(self, shipment: _Shipment, row: _Row, package: PackageInput) -> None:
        known = shipment.packages.get(package.ref)
        if known is None:
            known = shipment.packages[package.ref] = _Package(package, _Agreeing(f"package {package.ref}"))
            self._check_sscc_unique(row, package)
        known.agreeing.check(row, "package_type", package.kind)
        known.agreeing.check(row, "package_sscc", package.sscc)
        known.agreeing.check(row, "parent_package_ref", package.parent_ref)

    def _check_sscc_unique(self, row: _Row, package: PackageInput) -> None:
        if not package.sscc or "package_sscc" in row.bad:
            return
        ref, where = self.ssccs.setdefault(package.sscc, (package.ref, row.number))
        if where != row.number:
            row.problem("package_sscc", f"SSCC {package.sscc} is already package {ref}'s, in row {where}.")

    def build(self, fmt: DocumentFormat) -> ParsedDocument:
        for shipment in self.shipments.values():
            if shipment.complete and not self.unassigned:
                self._check_structure(shipment)
        self.problems.raise_if_any()
        shipments = tuple(_shipment_input(s) for s in self.shipments.values())
        return ParsedDocument(format=fmt, kind=DocumentKind.SHIP_NOTICE, shipments=shipments)

    def _check_structure(self, shipment: _Shipment) -> None:
        if not shipment.lines:
            self.problems.add(f"Ship notice {shipment.number} has no PO lines.", row=shipment.row, column="asn_number")
        for line in shipment.lines:
            if line.package_ref is not None:
                shipment.packages[line.package_ref].holds_something = True
        for package in shipment.packages.values():
            parent = _parent(shipment, package)
            if package.parent_ref is not None and parent is None:
                message = f"No row of ship notice {shipment.number} declares package {package.parent_ref}."
                self._problem(package, "parent_package_ref", message)
            if parent is not None:
                parent.holds_something = True
        for package in shipment.packages.values():
            self._check_package(shipment, package)

    def _check_package(self, shipment: _Shipment, package: _Package) -> None:
        if not package.holds_something:
            self._problem(package, "package_ref", f"Package {package.input.ref} holds no PO line and no other package.")
        seen = {package.input.ref}
        parent = _parent(shipment, package)
        while parent is not None and parent.input.ref not in seen:
            seen.add(parent.input.ref)
            parent = _parent(shipment, parent)
        # A package naming itself as parent was reported with its row.
        if parent is package and package.parent_ref != package.input.ref:
            self._problem(package, "parent_package_ref", f"Package {package.input.ref} ends up inside itself.")

    def _problem(self, package: _Package, column: str, message: str) -> None:
        self.problems.add(message, row=package.input.location.row, column=column)


def _parent(shipment: _Shipment, package: _Package) -> _Package | None:
    return shipment.packages.get(package.parent_ref) if package.parent_ref is not None else None


def _shipment_input(shipment: _Shipment) -> ShipmentInput:
    header = shipment.header
    # Built only when no row had a problem, so each value is what its column reads into.
    return ShipmentInput(
        number=shipment.number,
        ship_date=cast(dt.date, header["ship_date"]),
        estimated_arrival=cast(dt.date | None, header["estimated_arrival"]),
        carrier_scac=str(header["carrier_scac"]),
        carrier_name=str(header["carrier_name"]),
        tracking_number=str(header["tracking_number"]),
        ship_from=str(header["ship_from"]),
        bill_of_lading=str(header["bill_of_lading"]),
        site_code=str(header["ship_to_site"]),
        packages=tuple(p.input for p in shipment.packages.values()),
        lines=tuple(shipment.lines),
        location=Location(row=shipment.row),
    )


# --- acknowledgements --------------------------------------------------------------------


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


# --- layouts and templates ---------------------------------------------------------------

_SSCC_PALLET, _SSCC_CARTON_1, _SSCC_CARTON_2 = "006141410000000012", "006141410000000029", "006141410000000036"
_ASN_SHIPMENT: dict[str, Cell] = {
    "asn_number": "ASN-1001",
    "ship_date": dt.date(2026, 3, 2),
    "estimated_arrival": dt.date(2026, 3, 4),
    "carrier_scac": "UPSN",
    "carrier_name": "UPS",
    "tracking_number": "1Z999AA10123456784",
    "ship_from": "ACME Ltd, 1 Dock Road, Leeds",
    "bill_of_lading": "BOL-5521",
    "ship_to_site": "DC1",
}
_ASN_EXAMPLES: tuple[dict[str, Cell], ...] = (
    _ASN_SHIPMENT | {"package_ref": "P1", "package_type": "pallet", "package_sscc": _SSCC_PALLET},
    _ASN_SHIPMENT
    | {"po_number": "4500012345", "po_line": 10, "item_sku": "ITEM-100", "quantity": Decimal(24)}
    | {"lot_number": "L2026-01", "expiry_date": dt.date(2027, 3, 31)}
    | {"package_ref": "C1", "package_type": "carton", "package_sscc": _SSCC_CARTON_1, "parent_package_ref": "P1"},
    _ASN_SHIPMENT
    | {"po_number": "4500012345", "po_line": 20, "item_sku": "ITEM-200", "quantity": Decimal("12.5")}
    | {"package_ref": "C2", "package_type": "carton", "package_sscc": _SSCC_CARTON_2, "parent_package_ref": "P1"},
)
_ACK_PO: dict[str, Cell] = {"po_number": "4500012345"}
_ACK_SPLIT: dict[str, Cell] = _ACK_PO | {"po_line": 30, "action": "change", "unit_price": Decimal("12.50")}
_ACK_EXAMPLES: tuple[dict[str, Cell], ...] = (
    _ACK_PO | {"po_line": 10, "action": "accept"},
    _ACK_PO | {"po_line": 20, "action": "reject", "reason_code": "OUT_OF_STOCK", "note": "Back in stock in May."},
    _ACK_SPLIT | {"quantity": Decimal(60), "promised_date": dt.date(2026, 4, 1)},
    _ACK_SPLIT | {"quantity": Decimal(40), "promised_date": dt.date(2026, 4, 15), "note": "Rest in a second delivery."},
)


def _layout(kind: DocumentKind, *, decimal_comma: bool = False) -> _Layout:
    if kind == DocumentKind.SHIP_NOTICE:
        return _Layout(kind, ASN_COLUMNS, "a ship notice", "Ship notices", _ASN_EXAMPLES, decimal_comma)
    if kind == DocumentKind.ACKNOWLEDGEMENT:
        return _Layout(
            kind, ACKNOWLEDGEMENT_COLUMNS, "an acknowledgement", "Acknowledgements", _ACK_EXAMPLES, decimal_comma
        )
    raise ValueError(f"There is no spreadsheet layout for {kind}.")


def _builder(kind: DocumentKind, problems: _Problems) -> _Builder:
    return _ShipmentBuilder(problems) if kind == DocumentKind.SHIP_NOTICE else _AcknowledgementBuilder(problems)


def _example_text(value: Cell) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, dt.date) else str(value)


# Text columns are formatted as text, so Excel neither drops an SSCC's leading zeros nor rounds it to 15 digits.
_NUMBER_FORMATS = {"text": "@", "date": "yyyy-mm-dd", "number": "General"}


def _write_examples(sheet: Worksheet, layout: _Layout) -> None:
    sheet.append([c.name for c in layout.columns])
    for example in layout.examples:
        sheet.append([example.get(c.name) for c in layout.columns])
    for index, column in enumerate(layout.columns, start=1):
        letter = get_column_letter(index)
        sheet[f"{letter}1"].font = Font(bold=True)
        widest = max(len(_example_text(e.get(column.name))) for e in layout.examples)
        sheet.column_dimensions[letter].width = max(len(column.name), widest) + 2
        sheet.column_dimensions[letter].number_format = _NUMBER_FORMATS[column.cell]
        for cell in sheet[letter][1:]:
            cell.number_format = _NUMBER_FORMATS[column.cell]
    sheet.freeze_panes = "A2"
    _add_choice_validation(sheet, layout)


def _add_choice_validation(sheet: Worksheet, layout: _Layout) -> None:
    choices = {"package_type": PACKAGE_KINDS, "action": ACTIONS}
    for index, column in enumerate(layout.columns, start=1):
        if column.name in choices:
            validation = DataValidation(type="list", formula1=f'"{",".join(choices[column.name])}"', allow_blank=True)
            letter = get_column_letter(index)
            validation.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
            sheet.add_data_validation(validation)


def _write_instructions(sheet: Worksheet, layout: _Layout) -> None:
    sheet.append(["Column", "Required column", "Format", "What to enter"])
    for column in layout.columns:
        sheet.append([column.name, "yes" if column.required else "no", column.format, column.description])
    sheet.append([])
    notes = _ASN_NOTES if layout.kind == DocumentKind.SHIP_NOTICE else _ACK_NOTES
    for note in (*notes, *_GENERAL_NOTES):
        sheet.append([note])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCD", (22, 16, 26, 80), strict=True):
        sheet.column_dimensions[letter].width = width


_GENERAL_NOTES = (
    "Fill the first sheet, one row per line, under its header row; replace the example rows.",
    "Dates are YYYY-MM-DD or date cells; numbers use a dot for decimals and no thousands separators.",
    f"At most {MAX_ROWS:,} rows. A file with any problem is refused whole, with every problem listed.",
)
_ASN_NOTES = (
    "Rows with the same asn_number are one ship notice and repeat its ship_date to ship_to_site.",
    "A package's type, SSCC and parent are the same on every row naming it.",
    "Declare a package that holds only other packages (a pallet of cartons) on its own row, "
    "with its package columns and blank po_number, po_line and quantity.",
)
_ACK_NOTES = (
    "Answer every line of the PO: accept, reject (with a reason_code) or change.",
    "To split a line, give one change row per delivery, each with its quantity and promised_date.",
)
