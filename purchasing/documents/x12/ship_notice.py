"""The 856 Ship Notice/Manifest read into a ``ShipmentInput``.

The HL segments form a tree through their parent pointers (HL02): S shipment, O order, T tare
(a pallet), P pack (a carton), I item. A line takes the PO number of the order above it and
the innermost package above it, so S-O-T-P-I, S-O-P-I and S-O-I (loose items) read alike.
Segments are taken as they stream by; only the HLs that others may hang below are kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError

from purchasing import gs1
from purchasing.documents.shapes import Location, PackageInput, ShipmentInput, ShipmentLineInput
from purchasing.documents.x12.elements import Elements
from purchasing.documents.x12.tokenizer import Segment

LEVELS = {"S": "shipment", "O": "order", "T": "tare", "P": "pack", "I": "item"}
PACKAGE_KINDS = {"T": "pallet", "P": "carton"}
PURPOSES = {"00": False, "05": True}  # BSN01 original or replace: ShipmentInput.replaces
SHIPMENT_LEVEL = ("", "S")  # before the first HL, or in the shipment's own loop


@dataclass(eq=False, slots=True)
class _Level:
    """An HL other than an item: what the HLs below it inherit."""

    hl: Segment
    code: str
    parent: _Level | None
    po_number: str = ""
    sscc: str = ""

    @property
    def ref(self) -> str:
        return self.hl.element(1)

    def nearest(self, codes: str) -> _Level | None:
        level: _Level | None = self
        while level is not None and level.code not in codes:
            level = level.parent
        return level


@dataclass(slots=True)
class _Item:
    hl: Segment
    parent: _Level
    lin: Segment | None = None
    sn1: Segment | None = None
    line_number: int | None = None
    quantity: Decimal | None = None
    sku: str = ""
    lot: str = ""
    expiry: dt.date | None = None


@dataclass(slots=True)
class _Header:
    bsn: Segment | None = None
    number: str = ""
    notice_date: dt.date | None = None
    replaces: bool = False
    ship_date: dt.date | None = None
    estimated_arrival: dt.date | None = None
    carrier_scac: str = ""
    carrier_name: str = ""
    tracking_number: str = ""
    bill_of_lading: str = ""
    site_code: str = ""
    ship_from: list[str] = field(default_factory=list)


class ShipNoticeMapper:
    def __init__(self, st: Segment, elements: Elements) -> None:
        self._st = st
        self._elements = elements
        self._header = _Header()
        # The HLs something may hang below. Items are not kept: nothing hangs below an item, and a
        # notice of 20,000 lines would otherwise hold every id (two items sharing an id harm nothing).
        self._levels: dict[str, _Level] = {}
        self._open: _Level | _Item | None = None  # None also while in an HL too broken to read
        self._code = ""  # the level code of the current HL ("" before the first)
        self._hl_count = 0
        self._items = 0
        self._party = ""  # the N1 entity code whose N3/N4 follow
        self._packages: list[PackageInput] = []
        self._lines: list[ShipmentLineInput] = []

    def feed(self, segment: Segment) -> None:
        match segment.tag:
            case "BSN":
                self._on_bsn(segment)
            case "HL":
                self._on_hl(segment)
            case "DTM":
                self._on_dtm(segment)
            case "TD5":
                self._on_td5(segment)
            case "REF":
                self._on_ref(segment)
            case "N1" | "N3" | "N4":
                self._on_party(segment)
            case "PRF":
                self._on_prf(segment)
            case "MAN":
                self._on_man(segment)
            case "LIN":
                self._on_lin(segment)
            case "SN1":
                self._on_sn1(segment)
            case "CTT":
                self._on_ctt(segment)

    def finish(self) -> ShipmentInput | None:
        self._close_open()
        header = self._header
        if header.bsn is None:
            self._elements.missing_segment("BSN", self._st, "The ship notice has no BSN segment.")
        if not self._items:
            self._elements.missing_segment("HL", self._st, "The ship notice ships no items (no HL of level I).")
        ship_date = header.ship_date or header.notice_date
        if header.bsn is None or not header.number or ship_date is None:
            return None
        return ShipmentInput(
            number=header.number,
            ship_date=ship_date,
            estimated_arrival=header.estimated_arrival,
            carrier_scac=header.carrier_scac,
            carrier_name=header.carrier_name,
            tracking_number=header.tracking_number,
            ship_from="\n".join(header.ship_from),
            bill_of_lading=header.bill_of_lading,
            site_code=header.site_code,
            packages=tuple(self._packages),
            lines=tuple(self._lines),
            replaces=header.replaces,
            location=Location(segment="BSN", position=header.bsn.position),
        )

    def _on_bsn(self, bsn: Segment) -> None:
        header = self._header
        if header.bsn is not None:
            self._elements.problem(bsn, "A ship notice has one BSN segment.")
            return
        if self._code:
            self._elements.problem(bsn, "BSN must come before the first HL.")
        header.bsn = bsn
        if bsn.element(1) not in PURPOSES:
            self._elements.problem(
                bsn, f"The purpose must be 00 (original) or 05 (replace), not {bsn.element(1)!r}.", 1
            )
        header.replaces = PURPOSES.get(bsn.element(1), False)
        header.number = self._elements.text(bsn, 2, "the shipment number") or ""
        header.notice_date = self._elements.date(bsn, 3, "the notice date")

    def _on_hl(self, hl: Segment) -> None:
        self._close_open()
        self._hl_count += 1
        self._party = ""
        self._code = hl.element(3)
        self._open = self._open_hl(hl)

    def _open_hl(self, hl: Segment) -> _Level | _Item | None:
        ref = self._elements.text(hl, 1, "the HL id")
        if ref is None:
            return None
        if ref in self._levels:
            self._elements.problem(hl, f"HL id {ref!r} is used twice.", 1)
            return None
        code = hl.element(3)
        if code not in LEVELS:
            self._elements.problem(hl, f"The level must be S, O, T, P or I, not {code!r}.", 3)
            return None
        parent = self._parent(hl, code)
        if code == "I":
            return self._open_item(hl, parent)
        level = _Level(hl, code, parent)
        self._levels[ref] = level
        return level

    def _parent(self, hl: Segment, code: str) -> _Level | None:
        """The HL above ``hl``; None for the shipment, or (reported) when HL02 names no usable HL."""
        parent_ref = hl.element(2)
        if code == "S" or self._hl_count == 1:
            if code != "S" or self._hl_count != 1 or parent_ref:
                self._elements.problem(hl, "The first HL, and only it, is the shipment (S), with no parent.")
            return None
        parent = self._levels.get(parent_ref)
        if parent is None and parent_ref:
            message = f"No shipment, order, tare or pack HL before this one has the id {parent_ref!r}."
            self._elements.problem(hl, message, 2)
        elif parent is None:
            self._elements.problem(hl, "The parent HL id is missing.", 2)
        return parent

    def _open_item(self, hl: Segment, parent: _Level | None) -> _Item | None:
        self._items += 1
        if parent is None:
            return None
        if parent.nearest("O") is None:
            self._elements.problem(hl, "An item must be below an order (an HL of level O).", 2)
            return None
        return _Item(hl, parent)

    def _close_open(self) -> None:
        opened, self._open = self._open, None
        if isinstance(opened, _Item):
            self._close_item(opened)
        elif opened is not None and opened.code == "O" and not opened.po_number:
            self._elements.problem(opened.hl, "The order HL has no PRF segment with its PO number.")
        elif opened is not None and opened.code in PACKAGE_KINDS:
            self._packages.append(_package(opened))

    def _close_item(self, item: _Item) -> None:
        if item.lin is None:
            self._elements.problem(item.hl, "The item HL has no LIN segment (which PO line it ships).")
        if item.sn1 is None:
            self._elements.problem(item.hl, "The item HL has no SN1 segment (the quantity shipped).")
        if item.lin is None or item.line_number is None or item.quantity is None:
            return
        order = item.parent.nearest("O")
        package = item.parent.nearest("TP")
        self._lines.append(
            ShipmentLineInput(
                po_number=order.po_number if order else "",
                line_number=item.line_number,
                quantity=item.quantity,
                package_ref=package.ref if package else None,
                item_sku=item.sku,
                lot_number=item.lot,
                expiry_date=item.expiry,
                location=Location(segment="LIN", position=item.lin.position),
            )
        )

    def _on_dtm(self, dtm: Segment) -> None:
        qualifier = dtm.element(1)
        if qualifier == "036":
            if (item := self._at_item(dtm)) is not None:
                item.expiry = self._elements.date(dtm, 2, "the expiry date")
        elif qualifier == "011" and self._code in SHIPMENT_LEVEL:
            self._header.ship_date = self._elements.date(dtm, 2, "the ship date")
        elif qualifier == "017" and self._code in SHIPMENT_LEVEL:
            self._header.estimated_arrival = self._elements.date(dtm, 2, "the estimated delivery date")

    def _on_td5(self, td5: Segment) -> None:
        # TD5 may repeat for each leg of the routing; the first carrier named is the one that picks up.
        if self._code in SHIPMENT_LEVEL:
            self._header.carrier_scac = self._header.carrier_scac or td5.element(3)
            self._header.carrier_name = self._header.carrier_name or td5.element(5)

    def _on_ref(self, ref: Segment) -> None:
        qualifier = ref.element(1)
        if qualifier == "LT":
            if (item := self._at_item(ref)) is not None:
                item.lot = self._elements.text(ref, 2, "the lot number") or ""
        elif qualifier == "BM" and self._code in SHIPMENT_LEVEL:
            self._header.bill_of_lading = self._elements.text(ref, 2, "the bill of lading number") or ""
        elif qualifier in ("CN", "2I") and self._code in SHIPMENT_LEVEL:
            self._header.tracking_number = self._elements.text(ref, 2, "the tracking number") or ""

    def _on_party(self, segment: Segment) -> None:
        if self._code not in ("S", "O"):
            return
        if segment.tag == "N1":
            self._on_n1(segment)
        elif self._party == "SF" and segment.tag == "N3":
            self._header.ship_from.extend(filter(None, segment.elements[1:3]))
        elif self._party == "SF" and segment.tag == "N4":
            place = " ".join(filter(None, (segment.element(2), segment.element(3), segment.element(4))))
            self._header.ship_from.append(", ".join(filter(None, (segment.element(1), place))))

    def _on_n1(self, n1: Segment) -> None:
        self._party = n1.element(1)
        if self._party == "SF":
            self._header.ship_from = list(filter(None, [n1.element(2)]))
        elif self._party == "ST":
            site_code = n1.element(4)
            if self._header.site_code and site_code != self._header.site_code:
                self._elements.problem(n1, "One ship notice ships to one site: ship-to codes differ.", 4)
            self._header.site_code = self._header.site_code or site_code

    def _on_prf(self, prf: Segment) -> None:
        if isinstance(self._open, _Level) and self._open.code == "O":
            self._open.po_number = self._elements.text(prf, 1, "the PO number") or ""
        elif self._code != "O":
            self._elements.problem(prf, "PRF belongs in an order loop (an HL of level O).")

    def _on_man(self, man: Segment) -> None:
        if man.element(1) != "GM":
            return
        package = self._open
        if not isinstance(package, _Level) or package.code not in PACKAGE_KINDS:
            if self._code not in PACKAGE_KINDS:
                self._elements.problem(man, "An SSCC (MAN*GM) belongs in a tare or pack loop (HL level T or P).")
            return
        try:
            package.sscc = gs1.validate_sscc(man.element(2))
        except ValidationError as error:
            self._elements.problem(man, " ".join(error.messages), 2)

    def _on_lin(self, lin: Segment) -> None:
        item = self._at_item(lin)
        if item is None:
            return
        if item.lin is not None:
            self._elements.problem(lin, "An item HL has one LIN segment.")
            return
        item.lin = lin
        ids = _product_ids(lin)
        line_element = ids["PL"][1] if "PL" in ids else 1
        item.line_number = self._elements.integer(lin, line_element, "the PO line number")
        item.sku = ids.get("BP", ids.get("IN", ("", 0)))[0]
        item.lot = ids.get("LT", (item.lot, 0))[0]

    def _on_sn1(self, sn1: Segment) -> None:
        item = self._at_item(sn1)
        if item is None:
            return
        if item.sn1 is not None:
            self._elements.problem(sn1, "An item HL has one SN1 segment.")
            return
        item.sn1 = sn1
        item.quantity = self._elements.decimal(sn1, 2, "the quantity shipped")
        if item.quantity is not None and item.quantity <= 0:
            self._elements.problem(sn1, "The quantity shipped must be more than zero.", 2)
            item.quantity = None

    def _on_ctt(self, ctt: Segment) -> None:
        stated = self._elements.integer(ctt, 1, "the number of HL segments")
        if stated is not None and stated != self._hl_count:
            self._elements.problem(ctt, f"CTT01 says {stated} HL segments; there are {self._hl_count}.", 1)

    def _at_item(self, segment: Segment) -> _Item | None:
        if isinstance(self._open, _Item):
            return self._open
        if self._code != "I":  # in a broken item HL, its own problem was reported already
            self._elements.problem(segment, f"{segment.tag} belongs in an item loop (an HL of level I).")
        return None


def _package(level: _Level) -> PackageInput:
    holder = level.parent.nearest("TP") if level.parent else None
    return PackageInput(
        ref=level.ref,
        kind=PACKAGE_KINDS[level.code],
        sscc=level.sscc,
        parent_ref=holder.ref if holder else None,
        location=Location(segment="HL", position=level.hl.position),
    )


def _product_ids(lin: Segment) -> dict[str, tuple[str, int]]:
    """LIN's qualifier/id pairs from LIN02/LIN03 on: {"BP": ("SKU-1", 3), ...} with each id's element number."""
    pairs: dict[str, tuple[str, int]] = {}
    for number in range(2, len(lin.elements) - 1, 2):
        qualifier = lin.element(number)
        if qualifier and lin.element(number + 1):
            pairs.setdefault(qualifier, (lin.element(number + 1), number + 1))
    return pairs
