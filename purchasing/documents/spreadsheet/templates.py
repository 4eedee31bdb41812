"""The templates to fill in: a CSV file, and an Excel workbook with its instructions."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from purchasing.documents.shapes import DocumentKind
from purchasing.documents.spreadsheet.columns import ACTIONS, PACKAGE_KINDS
from purchasing.documents.spreadsheet.layouts import _Layout, _layout
from purchasing.documents.spreadsheet.reading import MAX_ROWS
from purchasing.documents.spreadsheet.values import Cell


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
