"""Ship notices from rows: each notice's header, packages and lines, and the checks that span rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import cast

from purchasing.documents.shapes import (
    DocumentFormat,
    DocumentKind,
    Location,
    PackageInput,
    ParsedDocument,
    ShipmentInput,
    ShipmentLineInput,
)
from purchasing.documents.spreadsheet.columns import PACKAGE_KINDS
from purchasing.documents.spreadsheet.rows import _Agreeing, _Problems, _Row
from purchasing.documents.spreadsheet.values import _as_choice, _as_date, _as_line_number, _as_sscc, _validated
from purchasing.models.shipments import asn_number_validator, scac_validator

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
