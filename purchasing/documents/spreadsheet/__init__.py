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

In this package, ``reading`` reads the records and the header and hands each row to the builder
of its kind (``shipments``, ``acknowledgements``), which reads the row's values (``rows``,
``values``) and checks what spans rows; ``columns`` and ``layouts`` define the two layouts and
``templates`` writes the templates to fill in.
"""

from purchasing.documents.spreadsheet.columns import (
    ACKNOWLEDGEMENT_COLUMNS,
    ACTIONS,
    ASN_COLUMNS,
    PACKAGE_KINDS,
    Column,
)
from purchasing.documents.spreadsheet.reading import MAX_ROWS, MAX_XLSX_UNPACKED_BYTES, parse_csv, parse_xlsx
from purchasing.documents.spreadsheet.rows import MAX_LISTED_PROBLEMS
from purchasing.documents.spreadsheet.templates import template_csv, template_xlsx
from purchasing.documents.spreadsheet.values import Cell

__all__ = [
    "ACKNOWLEDGEMENT_COLUMNS",
    "ACTIONS",
    "ASN_COLUMNS",
    "MAX_LISTED_PROBLEMS",
    "MAX_ROWS",
    "MAX_XLSX_UNPACKED_BYTES",
    "PACKAGE_KINDS",
    "Cell",
    "Column",
    "parse_csv",
    "parse_xlsx",
    "template_csv",
    "template_xlsx",
]
