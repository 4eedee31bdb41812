"""The columns of the two layouts; the package docstring describes them to suppliers, column by column."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

_DEFAULT_MAX_CHARS = 1_000

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
