"""Printable GS1 logistic labels: one 4 x 6 inch PDF page per pallet or carton, with its SSCC as GS1-128.

Zones from top to bottom, as on a GS1 logistic label: ship from / ship to, carrier, order and
contents, and the SSCC barcode at the bottom. All supplier text is escaped before it reaches
reportlab's paragraph markup, and each zone shrinks its text to fit rather than spill over.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.code128 import Code128Auto
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch, mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Frame, KeepInFrame, Paragraph, Table, TableStyle

from purchasing.gs1 import SSCC_AI, sscc_human_readable, validate_sscc

PAGE_WIDTH, PAGE_HEIGHT = 4 * inch, 6 * inch
MARGIN = 0.12 * inch
# GS1 logistic labels: X-dimension at least 0.495 mm, bars at least 31.75 mm tall, quiet zones of 10 X.
X_DIMENSION = 0.495 * mm
BAR_HEIGHT = 32 * mm
# reportlab's code128 spells the Function 1 character as "\xf1"; in the start position it makes the symbol GS1-128.
FNC1 = "\xf1"
PACKAGE_KINDS = ("pallet", "carton", "package")
MAX_CONTENT_ROWS = 6
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a tab stays: paragraphs read it as a space

_PADDING = 4
_CAPTION = ParagraphStyle("caption", fontName="Helvetica-Bold", fontSize=6.5, leading=8)
_SMALL = ParagraphStyle("small", fontName="Helvetica", fontSize=8.5, leading=10.5)
_CELL = ParagraphStyle("cell", fontName="Helvetica", fontSize=7.5, leading=9)
_BOLD = ParagraphStyle("bold", fontName="Helvetica-Bold", fontSize=10, leading=12)
_SHIP_TO = ParagraphStyle("ship-to", fontName="Helvetica-Bold", fontSize=11, leading=13)
_BIG = ParagraphStyle("big", fontName="Helvetica-Bold", fontSize=16, leading=19, alignment=TA_RIGHT)
_TABLE_STYLE = TableStyle(
    [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ("TOPPADDING", (0, 0), (-1, -1), 1),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, "black"),
    ]
)

ContentRow = tuple[str, str, str, str]  # SKU, description, quantity with its unit, lot ("" for none)


@dataclass(frozen=True, kw_only=True)
class ShippingLabel:
    """What one package's label shows. ``index`` and ``count`` print as "CARTON 2 OF 3"."""

    sscc: str
    package_kind: str
    ship_from: str
    ship_to: str
    carrier_name: str
    carrier_scac: str
    tracking_number: str
    bill_of_lading: str
    asn_number: str
    po_numbers: tuple[str, ...]
    contents: tuple[ContentRow, ...]
    index: int
    count: int
    ship_date: dt.date
    # Known to whoever made the SSCC; only used to group the digits under the barcode.
    company_prefix_length: int | None = None

    def __post_init__(self) -> None:
        validate_sscc(self.sscc)
        if self.package_kind not in PACKAGE_KINDS:
            raise ValueError(f"A package is a pallet, carton or package, not {self.package_kind!r}.")
        if not 1 <= self.index <= self.count:
            raise ValueError(f"Package {self.index} of {self.count} is not a package of the shipment.")


def shipping_labels_pdf(labels: Sequence[ShippingLabel]) -> bytes:
    """A PDF with one 4 x 6 inch page per label, in the order given."""
    if not labels:
        raise ValueError("There are no labels to print.")
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(PAGE_WIDTH, PAGE_HEIGHT))
    canvas.setTitle(f"Shipping labels, ASN {labels[0].asn_number}")
    for label in labels:
        _draw_label(canvas, label)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def gs1_128_sscc_data(sscc: str) -> str:
    """The data of an SSCC's GS1-128 symbol in reportlab's code128 spelling: FNC1, AI 00, the 18 digits."""
    return f"{FNC1}{SSCC_AI}{validate_sscc(sscc)}"


def sscc_barcode(sscc: str) -> Code128Auto:
    """The GS1-128 symbol of an SSCC; Code128Auto starts it in code set C, so it reads Start C, FNC1, 00, ..."""
    return Code128Auto(
        gs1_128_sscc_data(sscc),
        barWidth=X_DIMENSION,
        barHeight=BAR_HEIGHT,
        lquiet=10 * X_DIMENSION,
        rquiet=10 * X_DIMENSION,
        humanReadable=0,  # its text would show the FNC1; the label prints "(00) ..." itself
    )


@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    width: float
    height: float

    def split_left(self, fraction: float) -> tuple[_Box, _Box]:
        left = self.width * fraction
        return _Box(self.x, self.y, left, self.height), _Box(self.x + left, self.y, self.width - left, self.height)

    def split_top(self, height: float) -> tuple[_Box, _Box]:
        rest = self.height - height
        return _Box(self.x, self.y + rest, self.width, height), _Box(self.x, self.y, self.width, rest)


_ZoneDrawer = Callable[[Canvas, ShippingLabel, _Box], None]


def _draw_label(canvas: Canvas, label: ShippingLabel) -> None:
    width, top = PAGE_WIDTH - 2 * MARGIN, PAGE_HEIGHT - MARGIN
    fixed = sum(height for height, _ in _ZONES if height)
    flexible = PAGE_HEIGHT - 2 * MARGIN - fixed
    canvas.setLineWidth(1)
    for number, (height, draw) in enumerate(_ZONES, start=1):
        box = _Box(MARGIN, top - (height or flexible), width, height or flexible)
        draw(canvas, label, box)
        if number < len(_ZONES):
            canvas.line(MARGIN, box.y, MARGIN + width, box.y)
        top = box.y


def _draw_addresses(canvas: Canvas, label: ShippingLabel, box: _Box) -> None:
    from_box, to_box = box.split_left(0.42)
    _place(canvas, from_box, [_caption("Ship from"), _para(label.ship_from, _SMALL)])
    _place(canvas, to_box, [_caption("Ship to"), _para(label.ship_to, _SHIP_TO)])
    canvas.line(to_box.x, box.y, to_box.x, box.y + box.height)


def _draw_carrier(canvas: Canvas, label: ShippingLabel, box: _Box) -> None:
    carrier = " · ".join(filter(None, [label.carrier_name, label.carrier_scac and f"SCAC {label.carrier_scac}"]))
    references = [
        f"{name} {value}"
        for name, value in (("Tracking", label.tracking_number), ("B/L", label.bill_of_lading))
        if value
    ]
    _place(
        canvas, box, [_caption("Carrier"), _para(carrier or "—", _BOLD), *(_para(text, _SMALL) for text in references)]
    )


def _draw_order(canvas: Canvas, label: ShippingLabel, box: _Box) -> None:
    header, contents_box = box.split_top(0.62 * inch)
    references_box, package_box = header.split_left(0.6)
    references = [f"PO {', '.join(label.po_numbers)}", f"ASN {label.asn_number}", f"Shipped {label.ship_date}"]
    _place(canvas, references_box, [_para(text, _SMALL) for text in references])
    package = f"{label.package_kind.upper()}\n{label.index} OF {label.count}"
    _place(canvas, package_box, [_para(package, _BIG)])
    _place(canvas, contents_box, _contents(label.contents, contents_box.width - 2 * _PADDING))


def _contents(rows: tuple[ContentRow, ...], width: float) -> list[Flowable]:
    if not rows:
        return [_caption("Contents"), _para("No lines packed in this package.", _SMALL)]
    header = [_para(text, _CAPTION) for text in ("SKU", "Description", "Qty", "Lot")]
    body = [[_para(cell, _CELL) for cell in row] for row in rows[:MAX_CONTENT_ROWS]]
    table = Table([header, *body], colWidths=_column_widths(width), repeatRows=1)
    table.setStyle(_TABLE_STYLE)
    more = len(rows) - MAX_CONTENT_ROWS
    return [table] + ([_para(f"and {more} more lines: see ASN", _SMALL)] if more > 0 else [])


def _column_widths(width: float) -> list[float]:
    sku, quantity, lot = 0.85 * inch, 0.6 * inch, 0.7 * inch
    return [sku, width - sku - quantity - lot, quantity, lot]


def _draw_barcode(canvas: Canvas, label: ShippingLabel, box: _Box) -> None:
    barcode = sscc_barcode(label.sscc)
    centre = box.x + box.width / 2
    bars_y = box.y + 16
    barcode.drawOn(canvas, centre - barcode.width / 2, bars_y)
    canvas.setFont("Helvetica-Bold", 7)
    canvas.drawString(box.x + 4, bars_y + BAR_HEIGHT + 4, "SSCC")
    canvas.setFont("Helvetica-Bold", 12)
    text = sscc_human_readable(label.sscc, company_prefix_length=label.company_prefix_length)
    canvas.drawCentredString(centre, box.y + 3, text)


def _place(canvas: Canvas, box: _Box, flowables: list[Flowable]) -> None:
    """Draw ``flowables`` inside ``box``, shrunk if they would not fit."""
    frame = Frame(box.x, box.y, box.width, box.height, *(_PADDING,) * 4, showBoundary=0)
    inner_width, inner_height = box.width - 2 * _PADDING, box.height - 2 * _PADDING
    frame.addFromList([KeepInFrame(inner_width, inner_height, flowables, mode="shrink")], canvas)


def _para(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text: markup characters escaped, line breaks kept, control characters dropped."""
    lines = (escape(_CONTROL_CHARACTERS.sub("", line)) for line in text.splitlines())
    return Paragraph("<br/>".join(lines), style)


def _caption(text: str) -> Paragraph:
    return _para(text.upper(), _CAPTION)


# Heights from the top; None takes what the others leave.
_ZONES: tuple[tuple[float | None, _ZoneDrawer], ...] = (
    (1.2 * inch, _draw_addresses),
    (0.7 * inch, _draw_carrier),
    (None, _draw_order),
    (BAR_HEIGHT + 34, _draw_barcode),
)
