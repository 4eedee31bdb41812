"""A layout by document kind: its columns, how messages name it, and the example rows of its templates."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from decimal import Decimal

from purchasing.documents.shapes import DocumentKind
from purchasing.documents.spreadsheet.columns import ACKNOWLEDGEMENT_COLUMNS, ASN_COLUMNS, Column
from purchasing.documents.spreadsheet.values import Cell


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
