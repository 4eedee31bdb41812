"""GS1-128 shipping labels: the PDF's pages and the bars of its SSCC symbols, decoded here from scratch."""

import base64
import dataclasses
import datetime as dt
import itertools
import re
import zlib

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given

from purchasing.labels import (
    BAR_HEIGHT,
    X_DIMENSION,
    ShippingLabel,
    gs1_128_sscc_data,
    shipping_labels_pdf,
    sscc_barcode,
)
from tests.purchasing.test_gs1 import EXAMPLE_SSCC, ssccs

# Code 128 bar and space widths in modules for symbol values 0 to 106, from the symbology's
# specification (ISO/IEC 15417), typed here rather than taken from reportlab so the check is independent.
CODE128_WIDTHS = """
212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 221312 231212 112232 122132 122231
113222 123122 123221 223211 221132 221231 213212 223112 312131 311222 321122 321221 312212 322112 322211
212123 212321 232121 111323 131123 131321 112313 132113 132311 211313 231113 231311 112133 112331 132131
113123 113321 133121 313121 211331 231131 213113 213311 213131 311123 311321 331121 312113 312311 332111
314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 112412 122114 122411 142112 142211
241211 221114 413111 241112 134111 111242 121142 121241 114212 124112 124211 411212 421112 421211 212141
214121 412121 111143 111341 131141 114113 114311 411113 411311 113141 114131 311141 411131 211412 211214
211232 2331112
""".split()  # noqa: SIM905 (a table reads better as a block of text)
START_C, FNC1, STOP = 105, 102, 106

HOSTILE = '<b>&amp; </para> <font name="x"> ]]> & < > " \' \x00 \x1b 北京 €'


def a_label(**changes) -> ShippingLabel:
    label = ShippingLabel(
        sscc=EXAMPLE_SSCC,
        package_kind="carton",
        ship_from="Acme Fasteners GmbH\nIndustriestr. 5\n70565 Stuttgart\nDE",
        ship_to="Northwind DC 3\nReceiving Door 12\nMemphis, TN 38118\nUS",
        carrier_name="United Parcel Service",
        carrier_scac="UPSN",
        tracking_number="1Z999AA10123456784",
        bill_of_lading="BOL-778812",
        asn_number="ASN-2026-0042",
        po_numbers=("4500012345",),
        contents=(("AB-1001", "Hex bolt M8 x 40", "500 EA", "L2026-03"),),
        index=1,
        count=1,
        ship_date=dt.date(2026, 3, 5),
        company_prefix_length=7,
    )
    return dataclasses.replace(label, **changes)


# Reading the PDF: reportlab writes each page's content stream ASCII85- and Flate-encoded, and
# draws a bar as "n x y width height re f*" in the barcode's own coordinates.


def page_contents(pdf: bytes) -> list[str]:
    streams = re.findall(rb"stream\r?\n(.*?)~>endstream", pdf, re.DOTALL)
    return [zlib.decompress(base64.a85decode(stream)).decode("latin-1") for stream in streams]


def page_text(content: str) -> str:
    """The text a page shows, a line of it per line; reportlab may cut a line into several strings."""
    lines = []
    for block in re.findall(r"^BT (.*) ET$", content, re.MULTILINE):
        for line in block.split("T*"):
            strings = re.findall(r"\(((?:\\.|[^\\)])*)\) Tj", line)
            lines.append(re.sub(r"\\(.)", r"\1", "".join(strings)))
    return "\n".join(line for line in lines if line)


def bars_in(content: str) -> list[tuple[float, float]]:
    rects = re.findall(r"n (\S+) (\S+) (\S+) (\S+) re f\*", content)
    return [(float(x), float(w)) for x, _, w, h in rects if abs(float(h) - BAR_HEIGHT) < 0.01]


class BarRecorder:
    """Stands in for a canvas: a barcode draws each bar with canv.rect()."""

    def __init__(self) -> None:
        self.bars: list[tuple[float, float]] = []

    def rect(self, x, y, width, height, stroke=0, fill=1) -> None:
        self.bars.append((x, width))


def drawn_bars(sscc: str) -> list[tuple[float, float]]:
    barcode, recorder = sscc_barcode(sscc), BarRecorder()
    barcode.canv = recorder
    barcode.draw()
    return recorder.bars


# Decoding: bars and the spaces between them in modules, six elements a symbol (seven for Stop),
# the mod-103 check symbol verified; only code set C is read, which is all an SSCC symbol needs.


def modules(bars: list[tuple[float, float]]) -> list[int]:
    edges = [*bars, (bars[-1][0] + bars[-1][1], 0.0)]
    lengths = []
    for (x, width), (next_x, _) in itertools.pairwise(edges):
        lengths += [width, next_x - x - width]
    counts = [length / X_DIMENSION for length in lengths[:-1]]
    assert all(abs(count - round(count)) < 0.01 for count in counts), "bars are not whole modules"
    return [round(count) for count in counts]


def code128_values(widths: list[int]) -> list[int]:
    text = "".join(map(str, widths))
    assert text.endswith(CODE128_WIDTHS[STOP]), "no Stop pattern at the end"
    body = text[: -len(CODE128_WIDTHS[STOP])]
    *values, check = [CODE128_WIDTHS.index(body[i : i + 6]) for i in range(0, len(body), 6)]
    assert check == (values[0] + sum(i * v for i, v in enumerate(values[1:], start=1))) % 103
    return values


def gs1_128_element_string(values: list[int]) -> str:
    """Start C and FNC1 read as "]C1" (the GS1-128 symbology identifier); then two digits a symbol."""
    assert values[:2] == [START_C, FNC1], f"the symbol does not start with Start C, FNC1 but {values[:2]}"
    assert all(value < 100 for value in values[2:]), "left code set C"
    return "]C1" + "".join(f"{value:02d}" for value in values[2:])


def decode(bars: list[tuple[float, float]]) -> str:
    return gs1_128_element_string(code128_values(modules(bars)))


def test_the_barcode_data_is_fnc1_ai_00_and_the_sscc():
    assert gs1_128_sscc_data("(00) 0 0614141 123456789 0") == "\xf100" + EXAMPLE_SSCC


def test_the_barcode_data_refuses_a_wrong_sscc():
    with pytest.raises(ValidationError, match="check digit should be 0, not 1"):
        gs1_128_sscc_data("006141411234567891")


def test_the_sscc_symbol_starts_with_start_c_and_fnc1_and_carries_00_and_the_sscc():
    values = code128_values(modules(drawn_bars(EXAMPLE_SSCC)))
    assert values[:2] == [START_C, FNC1]
    assert values[2:] == [0, 0, 61, 41, 41, 12, 34, 56, 78, 90]


@given(sscc=ssccs())
def test_every_sscc_symbol_decodes_to_its_gs1_element_string(sscc):
    assert decode(drawn_bars(sscc)) == "]C100" + sscc


def test_the_symbol_has_gs1_quiet_zones_and_x_dimension():
    barcode = sscc_barcode(EXAMPLE_SSCC)
    bars = drawn_bars(EXAMPLE_SSCC)
    assert bars[0][0] == pytest.approx(10 * X_DIMENSION)
    assert barcode.width - sum(bars[-1]) == pytest.approx(10 * X_DIMENSION)
    # Start, FNC1, ten digit pairs and the check symbol at 11 modules each, Stop at 13.
    assert sum(modules(bars)) == 13 * 11 + 13


def test_the_pdf_has_one_4_by_6_inch_page_per_label():
    labels = [a_label(index=i, count=3, sscc=f"00614141123456789{d}") for i, d in ((1, 0), (2, 0), (3, 0))]
    pdf = shipping_labels_pdf(labels)
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type /Page\b(?!s)", pdf)) == 3
    assert len(re.findall(rb"/MediaBox \[ 0 0 288 432 \]", pdf)) == 3


def test_each_page_carries_the_symbol_and_text_of_its_own_package():
    second = "106141411234567897"
    pdf = shipping_labels_pdf([a_label(index=1, count=2), a_label(sscc=second, index=2, count=2)])
    first_page, second_page = page_contents(pdf)
    assert decode(bars_in(first_page)) == "]C100" + EXAMPLE_SSCC
    assert decode(bars_in(second_page)) == "]C100" + second
    assert "(00) 1 0614141 123456789 7" in page_text(second_page).splitlines()
    assert "2 OF 2" in page_text(second_page).splitlines()


def test_hostile_supplier_text_is_printed_as_text():
    hostile = a_label(
        ship_from=HOSTILE,
        ship_to=HOSTILE + "\n" + HOSTILE,
        carrier_name=HOSTILE,
        tracking_number=HOSTILE,
        bill_of_lading=HOSTILE,
        asn_number=HOSTILE,
        po_numbers=(HOSTILE, "<"),
        contents=((HOSTILE, HOSTILE, HOSTILE, HOSTILE),),
    )
    (content,) = page_contents(shipping_labels_pdf([hostile]))
    text = page_text(content)
    assert '<b>&amp; </para> <font name="x"> ]]> & < > " \'' in text
    assert "PO <b>&amp;" in text
    assert decode(bars_in(content)) == "]C100" + EXAMPLE_SSCC


def test_overflowing_text_shrinks_into_the_label_rather_than_off_it():
    row = ("SKU-" + "9" * 40, "A very long description " * 20, "1,000,000 EA", "LOT")
    crowded = a_label(ship_to="Line\n" * 40, contents=(row,) * 40)
    (content,) = page_contents(shipping_labels_pdf([crowded]))
    assert "and 34 more lines: see ASN" in page_text(content)
    assert decode(bars_in(content)) == "]C100" + EXAMPLE_SSCC


def test_a_label_without_optional_references_still_renders():
    plain = a_label(carrier_name="", carrier_scac="", tracking_number="", bill_of_lading="", contents=())
    (content,) = page_contents(shipping_labels_pdf([plain]))
    assert "No lines packed in this package." in page_text(content)


def test_the_prefix_grouping_is_left_out_when_its_length_is_unknown():
    (content,) = page_contents(shipping_labels_pdf([a_label(company_prefix_length=None)]))
    assert "(00) 0 0614141123456789 0" in page_text(content).splitlines()


def test_a_label_refuses_a_wrong_sscc_kind_or_package_number():
    with pytest.raises(ValidationError, match="must be 18 digits"):
        a_label(sscc="123")
    with pytest.raises(ValueError, match="pallet, carton or package"):
        a_label(package_kind="crate")
    with pytest.raises(ValueError, match="Package 3 of 2"):
        a_label(index=3, count=2)


def test_there_is_no_pdf_without_labels():
    with pytest.raises(ValueError, match="no labels"):
        shipping_labels_pdf([])
