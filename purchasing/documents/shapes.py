"""The shapes every document format is read into, so every channel ends in the same services.

A parser returns a ``ParsedDocument``: the interchange's envelope (who sent it, its control
number, the transaction sets it held, for the functional acknowledgement we send back) and
the business content, as ``ShipmentInput`` (one per ship notice) and ``AcknowledgementInput``
(one per PO answered). A malformed file raises ``DocumentError`` listing every problem found
with where it is (segment tag and position, line, row and column), having built nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from purchasing.models.documents import DocumentFormat, DocumentKind


@dataclass(frozen=True)
class Location:
    """Where in a file something is. Fill what the format has; ``str()`` reads well in a message."""

    segment: str = ""  # X12/EDIFACT segment tag, e.g. "LIN"
    position: int | None = None  # 1-based segment position in the interchange
    element: int | None = None  # 1-based element position in the segment
    line: int | None = None  # 1-based line of the file, where the format has lines
    row: int | None = None  # CSV/Excel row (1 = the header row)
    column: str = ""  # CSV/Excel column name

    def __str__(self) -> str:
        parts: list[str] = []
        if self.segment:
            parts.append(f"segment {self.segment}")
        if self.position is not None:
            parts.append(f"at position {self.position}")
        if self.element is not None:
            parts.append(f"element {self.element:02d}")
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Problem:
    message: str
    location: Location = field(default_factory=Location)

    def __str__(self) -> str:
        where = str(self.location)
        return f"{where}: {self.message}" if where else self.message

    def as_json(self) -> dict[str, object]:
        loc = self.location
        located = {
            "segment": loc.segment,
            "position": loc.position,
            "element": loc.element,
            "line": loc.line,
            "row": loc.row,
            "column": loc.column,
        }
        return {"message": self.message, **{k: v for k, v in located.items() if v not in ("", None)}}


__all__ = [  # the formats and kinds are the models' choices, re-exported so parsers import one module
    "AcknowledgementInput",
    "AcknowledgementLineInput",
    "DocumentError",
    "DocumentFormat",
    "DocumentKind",
    "Location",
    "PackageInput",
    "ParsedDocument",
    "Problem",
    "ShipmentInput",
    "ShipmentLineInput",
    "TransactionSet",
]


class DocumentError(Exception):
    """A file that cannot be read: every problem found, each with where it is.

    ``document`` is what could still be read of an EDI interchange's envelope (sender, control
    number, transaction sets, with no business content), so the functional acknowledgement that
    rejects it can be written; None when not even that could be read, or for CSV and Excel.
    """

    def __init__(self, problems: list[Problem] | Problem, document: ParsedDocument | None = None) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        self.document = document
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class PackageInput:
    """One package of a shipment. ``ref`` is the document's own name for it (an HL id, a CPS number,
    a CSV package reference); ``parent_ref`` names the package holding it (None: top level)."""

    ref: str
    kind: str = "carton"  # "pallet", "carton" or "package"
    sscc: str = ""  # empty: generate one from the supplier's GS1 company prefix
    parent_ref: str | None = None
    location: Location = field(default_factory=Location)


@dataclass(frozen=True)
class ShipmentLineInput:
    po_number: str
    line_number: int
    quantity: Decimal
    package_ref: str | None = None  # the innermost package holding it; None: loose
    item_sku: str = ""  # the buyer's item number when the document carries one (checked against the line)
    lot_number: str = ""
    expiry_date: dt.date | None = None
    location: Location = field(default_factory=Location)


@dataclass(frozen=True)
class ShipmentInput:
    number: str  # the supplier's ASN (shipment) number
    ship_date: dt.date
    estimated_arrival: dt.date | None = None
    carrier_scac: str = ""
    carrier_name: str = ""
    tracking_number: str = ""
    ship_from: str = ""
    bill_of_lading: str = ""
    site_code: str = ""  # ship-to, when the document carries it (checked against the POs' site)
    packages: tuple[PackageInput, ...] = ()
    lines: tuple[ShipmentLineInput, ...] = ()
    # For EDI "replace" purposes (BSN01=05, BGM 1225=5): this notice replaces the one with the same number.
    replaces: bool = False
    location: Location = field(default_factory=Location)


@dataclass(frozen=True)
class AcknowledgementLineInput:
    """One answer for one PO line. Several answers for the same line mean a split: each gives one
    delivery (quantity and date), and together they are the line's new schedule."""

    line_number: int
    action: str  # "accept", "reject" or "change" (the values of AcknowledgementLine.Action)
    quantity: Decimal | None = None  # the quantity of this answer (for a split: of this delivery)
    unit_price: Decimal | None = None
    date: dt.date | None = None  # the promised date of this answer's quantity
    reason_code: str = ""
    note: str = ""
    location: Location = field(default_factory=Location)


@dataclass(frozen=True)
class AcknowledgementInput:
    po_number: str
    lines: tuple[AcknowledgementLineInput, ...]
    note: str = ""
    location: Location = field(default_factory=Location)


@dataclass(frozen=True)
class TransactionSet:
    """One transaction set (X12 ST/SE) or message (EDIFACT UNH/UNT), for the functional acknowledgement."""

    code: str  # "856", "855", "DESADV", "ORDRSP"
    control_number: str
    group_control_number: str = ""  # X12 GS06; EDIFACT has no group in what we accept
    functional_id: str = ""  # X12 GS01: "SH" for 856, "PR" for 855
    version: str = ""  # X12 GS08 (e.g. 004010), EDIFACT version:release (e.g. D:96A)
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class ParsedDocument:
    format: DocumentFormat
    kind: DocumentKind
    sender_id: str = ""  # X12 ISA06 / EDIFACT UNB sender; empty for CSV and Excel
    receiver_id: str = ""
    control_number: str = ""  # X12 ISA13 / EDIFACT UNB 0020; empty for CSV and Excel
    sender_qualifier: str = ""
    receiver_qualifier: str = ""
    test_indicator: bool = False
    shipments: tuple[ShipmentInput, ...] = ()
    acknowledgements: tuple[AcknowledgementInput, ...] = ()
    transaction_sets: tuple[TransactionSet, ...] = ()
    # X12 GS envelope of the first group, echoed in the 997's own GS (application sender/receiver).
    group_sender_id: str = ""
    group_receiver_id: str = ""
