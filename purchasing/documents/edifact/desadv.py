"""DESADV (despatch advice, D.96A and D.01B) into a ShipmentInput, one segment at a time.

A ship notice can hold tens of thousands of lines, so the reader keeps only what it builds: the
header, the package being read (CPS), the line being read (LIN) and the finished packages and lines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from purchasing.documents.edifact import values
from purchasing.documents.edifact.syntax import Segment
from purchasing.documents.edifact.values import Problems
from purchasing.documents.shapes import PackageInput, ShipmentInput, ShipmentLineInput

# PAC 7065 package type codes (UN/ECE Recommendation 21 and EANCOM's pallet codes).
_PALLETS = frozenset({"08", "09", "200", "201", "202", "203", "PX", "PE", "PB"})
_CARTONS = frozenset({"CT", "CS", "BX"})
# LIN/PIA 7143 item type codes that carry the buyer's item number.
BUYER_ITEM_TYPES = frozenset({"IN", "BP"})
_BATCH_TYPE = "NB"
_FUNCTIONS = {"": False, "9": False, "5": True}  # BGM 1225: original or replacement
_SCAC_LENGTH = range(2, 5)


@dataclass
class _Header:
    number: str = ""
    replaces: bool = False
    ship_date: dt.date | None = None
    estimated_arrival: dt.date | None = None
    carrier_scac: str = ""
    carrier_name: str = ""
    tracking_number: str = ""
    ship_from: str = ""
    bill_of_lading: str = ""
    site_code: str = ""
    po_number: str = ""  # RFF+ON in the header: the order of every line that names none
    ship_date_given: bool = False


@dataclass
class _Package:
    cps: Segment
    ref: str
    holder: str | None  # the nearest package holding this CPS
    kind: str = ""  # "": no PAC, so the CPS is a level of the hierarchy and not a package
    sscc: str = ""

    @property
    def package_ref(self) -> str | None:
        return self.ref if self.kind else self.holder


@dataclass
class _Line:
    lin: Segment
    package_ref: str | None
    item_sku: str = ""
    po_number: str = ""
    line_number: int | None = None
    quantity: Decimal | None = None
    lot_number: str = ""
    expiry_date: dt.date | None = None
    quantity_segment: Segment | None = None  # the QTY+12, to refuse a second one


class DesadvReader:
    """Reads one DESADV message; ``finish`` returns its ShipmentInput (None when it has problems)."""

    def __init__(self, unh: Segment, problems: Problems) -> None:
        self._unh = unh
        self._problems = problems
        self._problems_before = len(problems.items)
        self._shared = values.Shared()
        self._line_count = 0
        self._header = _Header()
        self._bgm: Segment | None = None
        self._package: _Package | None = None
        self._line: _Line | None = None
        # CPS id -> the package its lines and children sit in (None: loose), to resolve CPS parents.
        self._holders: dict[str, str | None] = {}
        self._packages: list[PackageInput] = []
        self._lines: list[ShipmentLineInput] = []
        self._handlers: dict[str, Callable[[Segment], None]] = {
            "BGM": self._bgm_segment,
            "DTM": self._dtm,
            "RFF": self._rff,
            "NAD": self._nad,
            "TDT": self._tdt,
            "CPS": self._cps,
            "PAC": self._pac,
            "GIN": self._gin,
            "LIN": self._lin,
            "PIA": self._pia,
            "QTY": self._qty,
        }

    def feed(self, segment: Segment) -> None:
        handler = self._handlers.get(segment.tag)
        if handler is not None:
            handler(segment)

    def finish(self) -> ShipmentInput | None:
        self._close_line()
        self._close_package()
        self._check_header()
        h = self._header
        if len(self._problems.items) > self._problems_before or h.ship_date is None or self._bgm is None:
            return None
        return ShipmentInput(
            number=h.number,
            ship_date=h.ship_date,
            estimated_arrival=h.estimated_arrival,
            carrier_scac=h.carrier_scac,
            carrier_name=h.carrier_name,
            tracking_number=h.tracking_number,
            ship_from=h.ship_from,
            bill_of_lading=h.bill_of_lading,
            site_code=h.site_code,
            packages=tuple(self._packages),
            lines=tuple(self._lines),
            replaces=h.replaces,
            location=self._bgm.location(2),
        )

    def _check_header(self) -> None:
        if self._bgm is None:
            self._problems.at(self._unh, "the despatch advice has no BGM (document number)")
        elif not self._header.number:
            self._problems.at(self._bgm, "the despatch advice number (BGM 1004) is missing", 2)
        if not self._header.ship_date_given:
            self._problems.at(self._unh, "the despatch date (DTM+11) is missing")
        if not self._line_count:
            self._problems.at(self._unh, "the despatch advice has no lines (LIN)")

    # --- header ---------------------------------------------------------------------------

    @property
    def _in_header(self) -> bool:
        # Dates, references, parties and carriers of the whole shipment come before the first CPS or LIN.
        return self._package is None and self._line is None

    def _bgm_segment(self, bgm: Segment) -> None:
        self._bgm = bgm
        self._header.number = bgm.value(2)
        function = bgm.value(3)
        if function not in _FUNCTIONS:
            self._problems.at(bgm, f"message function {function} is not supported (9 original, 5 replace)", 3)
        self._header.replaces = _FUNCTIONS.get(function, False)

    def _dtm(self, dtm: Segment) -> None:
        qualifier = dtm.value(1)
        if self._line is not None:
            if qualifier == "36":
                self._line.expiry_date = values.date(dtm, self._problems)
        elif self._in_header and qualifier in ("11", "132", "17"):
            self._header_date(qualifier, values.date(dtm, self._problems))

    def _header_date(self, qualifier: str, date: dt.date | None) -> None:
        if qualifier == "11":
            self._header.ship_date = date
            self._header.ship_date_given = True
        elif self._header.estimated_arrival is None or qualifier == "132":
            # 132 (estimated arrival) is what we ask for; 17 (estimated delivery) stands in for it.
            self._header.estimated_arrival = date

    def _rff(self, rff: Segment) -> None:
        qualifier, reference = rff.value(1, 1), rff.value(1, 2)
        if self._line is not None:
            self._line_reference(self._line, rff)
        elif self._in_header:
            if qualifier == "BM":
                self._header.bill_of_lading = reference
            elif qualifier == "CN":
                self._header.tracking_number = reference
            elif qualifier == "ON":
                self._header.po_number = reference

    def _nad(self, nad: Segment) -> None:
        if not self._in_header:
            return
        qualifier, party = nad.value(1), nad.value(2, 1)
        if qualifier == "SF":
            self._header.ship_from = party or nad.value(4, 1)
        elif qualifier in ("ST", "DP") and not self._header.site_code:
            self._header.site_code = party

    def _tdt(self, tdt: Segment) -> None:
        if not self._in_header or self._header.carrier_scac or self._header.carrier_name:
            return
        # A SCAC is 2 to 4 capital letters: a carrier's GLN in C040 is no SCAC.
        candidates = (tdt.value(8, 1), tdt.value(5, 1))
        self._header.carrier_scac = next((c for c in candidates if _looks_like_scac(c)), "")
        self._header.carrier_name = tdt.value(5, 4)

    # --- packages ---------------------------------------------------------------------------

    def _cps(self, cps: Segment) -> None:
        self._close_line()
        self._close_package()
        ref, parent = cps.value(1), cps.value(2)
        if not ref:
            self._problems.at(cps, "the hierarchical id (CPS 7164) is missing", 1)
        elif ref in self._holders:
            self._problems.at(cps, f"CPS {ref} is used twice", 1)
        if parent and parent not in self._holders:
            self._problems.at(cps, f"parent CPS {parent} does not come before CPS {ref}", 2)
        self._package = _Package(cps, ref, self._holders.get(parent) if parent else None)

    def _pac(self, pac: Segment) -> None:
        package = self._package
        if package is None or self._line is not None or package.kind:
            return  # only the CPS's first PAC describes the package itself
        count = pac.value(1)
        if count.lstrip("0") not in ("", "1"):
            self._problems.at(pac, f"{count} packages in one CPS: give each package its own CPS", 1)
        type_code = pac.value(3, 1)
        package.kind = "pallet" if type_code in _PALLETS else "carton" if type_code in _CARTONS else "package"

    def _gin(self, gin: Segment) -> None:
        qualifier = gin.value(1)
        if qualifier == "BJ":
            self._sscc(gin)
        elif qualifier == "BX" and self._line is not None:
            self._line.lot_number = gin.value(2, 1)

    def _sscc(self, gin: Segment) -> None:
        package = self._package
        if package is None or self._line is not None:
            self._problems.at(gin, "an SSCC (GIN+BJ) belongs to the CPS and PAC of its package, before LIN")
        elif len(gin.elements) > 2 or gin.value(2, 2):
            self._problems.at(gin, "several SSCCs in one GIN: give each package its own CPS", 2)
        elif package.sscc:
            self._problems.at(gin, f"CPS {package.ref} has a second SSCC", 2)
        else:
            package.sscc = values.sscc(gin.value(2, 1), gin, 2, self._problems)

    def _close_package(self) -> None:
        package, self._package = self._package, None
        if package is None or not package.ref or package.ref in self._holders:
            return
        self._holders[package.ref] = package.package_ref
        if package.kind:
            self._packages.append(
                PackageInput(
                    ref=package.ref,
                    kind=package.kind,
                    sscc=package.sscc,
                    parent_ref=package.holder,
                    location=package.cps.location(),
                )
            )
        elif package.sscc:
            self._problems.at(package.cps, f"CPS {package.ref} has an SSCC but no PAC (package type)")

    # --- lines ------------------------------------------------------------------------------

    def _lin(self, lin: Segment) -> None:
        self._close_line()
        package_ref = self._package.package_ref if self._package is not None else None
        sku = lin.value(3, 1) if lin.value(3, 2) in BUYER_ITEM_TYPES else ""
        self._line = _Line(lin, package_ref, item_sku=sku)
        self._line_count += 1

    def _pia(self, pia: Segment) -> None:
        line = self._line
        if line is None:
            return
        for number, type_code, *_ in (c for c in pia.elements[1:] if len(c) >= 2):
            if type_code == _BATCH_TYPE:
                line.lot_number = number
            elif type_code in BUYER_ITEM_TYPES and not line.item_sku:
                line.item_sku = number

    def _qty(self, qty: Segment) -> None:
        line = self._line
        if line is None or qty.value(1, 1) != "12":
            return
        if line.quantity_segment is not None:
            self._problems.at(qty, "the line has a second despatched quantity (QTY+12)", 1)
        line.quantity_segment = qty
        line.quantity = values.decimal(qty, 1, 2, self._problems, "the despatched quantity")

    def _line_reference(self, line: _Line, rff: Segment) -> None:
        qualifier, reference = rff.value(1, 1), rff.value(1, 2)
        if qualifier == "ON":
            line.po_number = reference
            if rff.value(1, 3):
                line.line_number = values.line_number(rff.value(1, 3), rff, 1, self._problems)
        elif qualifier == "LI":
            line.line_number = values.line_number(reference, rff, 1, self._problems)

    def _close_line(self) -> None:
        line, self._line = self._line, None
        if line is None:
            return
        po_number = line.po_number or self._header.po_number
        if not po_number:
            self._problems.at(line.lin, "the line names no order (RFF+ON here or in the header)")
        if line.line_number is None:
            self._problems.at(line.lin, "the line names no PO line (RFF+ON:order:line or RFF+LI)")
        if line.quantity_segment is None:
            self._problems.at(line.lin, "the line has no despatched quantity (QTY+12)")
        if po_number and line.line_number is not None and line.quantity is not None:
            self._lines.append(
                ShipmentLineInput(
                    po_number=self._shared.text(po_number),
                    line_number=line.line_number,
                    quantity=self._shared.number(line.quantity),
                    package_ref=line.package_ref,
                    item_sku=self._shared.text(line.item_sku),
                    lot_number=self._shared.text(line.lot_number),
                    expiry_date=line.expiry_date,
                    location=line.lin.location(),
                )
            )


def _looks_like_scac(code: str) -> bool:
    return len(code) in _SCAC_LENGTH and code.isascii() and code.isalpha() and code.isupper()
