"""EDIFACT: DESADV and ORDRSP read into the shapes, ORDERS and CONTRL written, bad files refused with where."""

import datetime as dt
import io
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from purchasing.documents.edifact import (
    EdifactMessage,
    InterchangeError,
    Segment,
    contrl,
    orders,
    parse,
    read_envelope,
    segments,
)
from purchasing.documents.edifact.syntax import CHUNK_SIZE, MAX_SEGMENT_BYTES
from purchasing.documents.shapes import (
    AcknowledgementInput,
    AcknowledgementLineInput,
    DocumentError,
    DocumentFormat,
    DocumentKind,
    Location,
    PackageInput,
    ParsedDocument,
    Problem,
    ShipmentInput,
    ShipmentLineInput,
)
from purchasing.models import LineStatus
from tests.factories import ItemFactory, PurchaseOrderFactory, PurchaseOrderLineFactory, SiteFactory, SupplierFactory

FIXTURES = Path(__file__).parent / "fixtures" / "edifact"
PREPARED_AT = dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.UTC)
DESADV_HEADER = ("BGM+351+ASN-9+9", "DTM+11:20240301:102", "RFF+ON:PO-100001")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parsed(name: str) -> ParsedDocument:
    return parse(io.BytesIO(fixture(name)))


def refused(data: bytes) -> list[Problem]:
    with pytest.raises(DocumentError) as error:
        parse(io.BytesIO(data))
    return error.value.problems


def edi(*body: str, message: str = "DESADV:D:96A:UN") -> bytes:
    """One interchange holding one message of ``body``, its counts right."""
    inner = [f"UNH+1+{message}", *body]
    inner.append(f"UNT+{len(inner) + 1}+1")
    return "".join(
        f"{s}'" for s in ["UNA:+.? 'UNB+UNOC:3+ACME:ZZZ+SUPPLYLINE:ZZZ+240301:0930+IC9", *inner, "UNZ+1+IC9"]
    ).encode()


def at(tag: str, position: int | None = None, element: int | None = None) -> Location:
    return Location(segment=tag, position=position, element=element)


def texts(data: bytes) -> list[str]:
    """The segments of ``data`` written back with + and :, to compare with what a partner would see."""
    return ["+".join([s.tag, *(":".join(e) for e in s.elements)]) for s in segments(io.BytesIO(data))]


# --- DESADV -------------------------------------------------------------------------------------


def test_desadv_pallet_holding_two_cartons():
    document = parsed("desadv_pallet_two_cartons.edi")

    assert document == ParsedDocument(
        format=DocumentFormat.EDIFACT,
        kind=DocumentKind.SHIP_NOTICE,
        sender_id="5412345000013",
        sender_qualifier="14",
        receiver_id="4012345000009",
        receiver_qualifier="14",
        control_number="IC1001",
        shipments=(
            ShipmentInput(
                number="ASN-1001",
                ship_date=dt.date(2024, 3, 1),
                estimated_arrival=dt.date(2024, 3, 5),
                carrier_scac="UPSN",
                carrier_name="UPS Freight",
                tracking_number="1Z999AA10123456784",
                ship_from="5412345000013",
                bill_of_lading="BOL-778899",
                site_code="DAL1",
                packages=(
                    PackageInput("1", "pallet", "035412345000000012", None, at("CPS", 12)),
                    PackageInput("2", "carton", "035412345000000029", "1", at("CPS", 16)),
                    PackageInput("3", "carton", "035412345000000036", "1", at("CPS", 23)),
                ),
                lines=(
                    ShipmentLineInput("PO-100001", 10, Decimal(60), "2", "BRG-6204", location=at("LIN", 20)),
                    ShipmentLineInput(
                        "PO-100001", 20, Decimal(40), "3", "BLT-M8", "LOT-42", dt.date(2025, 6, 30), at("LIN", 27)
                    ),
                    ShipmentLineInput(
                        "PO-100002", 10, Decimal("5.5"), "3", "GSK-DN50", "BATCH-7", location=at("LIN", 34)
                    ),
                ),
                location=at("BGM", 3, 2),
            ),
        ),
        transaction_sets=(EdifactMessage("DESADV", "1", version="D:96A", position=2, segment_count=38),),
    )


def test_desadv_without_packages_d01b_with_bom_and_crlf():
    (shipment,) = parsed("desadv_no_packages_bom_crlf.edi").shipments

    assert shipment == ShipmentInput(
        number="ASN-1002",
        ship_date=dt.date(2024, 3, 2),
        estimated_arrival=dt.date(2024, 3, 6),
        carrier_scac="ODFL",
        carrier_name="Old Dominion",
        tracking_number="TRK-555",
        ship_from="ACME WAREHOUSE EAST",
        site_code="DAL1",
        lines=(
            # The header's RFF+ON names the order of lines that give only RFF+LI; a supplier's
            # article number (SA) is no item_sku.
            ShipmentLineInput("PO-100001", 10, Decimal(100), None, "BRG-6204", location=at("LIN", 12)),
            ShipmentLineInput("PO-100001", 20, Decimal(20), None, "", location=at("LIN", 15)),
        ),
        location=at("BGM", 3, 2),
    )


def test_desadv_replace():
    (shipment,) = parsed("desadv_replace.edi").shipments

    assert shipment == ShipmentInput(
        number="ASN-1001",
        ship_date=dt.date(2024, 3, 2),
        packages=(PackageInput("1", "pallet", "035412345000000043", None, at("CPS", 6)),),
        lines=(ShipmentLineInput("PO-100001", 10, Decimal(55), "1", "BRG-6204", location=at("LIN", 9)),),
        replaces=True,
        location=at("BGM", 3, 2),
    )


def test_desadv_lines_sit_in_the_innermost_package_and_levels_without_pac_are_no_package():
    data = edi(
        *DESADV_HEADER,
        "CPS+1",  # the shipment level: no PAC
        "CPS+2+1",
        "PAC+1++201",
        "CPS+3+2",
        "PAC+1++CT",
        "LIN+1",
        "QTY+12:1",
        "RFF+LI:10",
        "CPS+4+2",  # a carton without an SSCC: we generate one
        "PAC+1++BX",
        "LIN+2",
        "QTY+12:2",
        "RFF+LI:20",
    )

    (shipment,) = parse(io.BytesIO(data)).shipments

    assert [(p.ref, p.kind, p.sscc, p.parent_ref) for p in shipment.packages] == [
        ("2", "pallet", "", None),
        ("3", "carton", "", "2"),
        ("4", "carton", "", "2"),
    ]
    assert [(line.line_number, line.package_ref) for line in shipment.lines] == [(10, "3"), (20, "4")]


def test_desadv_carrier_gln_is_no_scac():
    data = edi(*DESADV_HEADER, "TDT+20++30++4012345000009::9:Fast Freight", "LIN+1", "QTY+12:1", "RFF+LI:10")

    (shipment,) = parse(io.BytesIO(data)).shipments

    assert (shipment.carrier_scac, shipment.carrier_name) == ("", "Fast Freight")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            ("BGM+351+ASN-9+9", "LIN+1", "QTY+12:1", "RFF+ON:PO-1:10"),
            [Problem("the despatch date (DTM+11) is missing", at("UNH", 2))],
        ),
        (
            (*DESADV_HEADER, "LIN+1", "QTY+12:1"),
            [Problem("the line names no PO line (RFF+ON:order:line or RFF+LI)", at("LIN", 6))],
        ),
        (
            (*DESADV_HEADER, "LIN+1", "QTY+12:ten", "RFF+LI:10"),
            [Problem("the despatched quantity “ten” is not a number", at("QTY", 7, 1))],
        ),
        (
            (*DESADV_HEADER, "CPS+1", "PAC+1++CT", "GIN+BJ+035412345000000013", "LIN+1", "QTY+12:1", "RFF+LI:10"),
            [Problem("“035412345000000013” is not an SSCC: SSCC check digit should be 2, not 3.", at("GIN", 8, 2))],
        ),
        (
            (*DESADV_HEADER, "CPS+1", "PAC+2++CT", "GIN+BJ+035412345000000012+035412345000000029"),
            [
                Problem("2 packages in one CPS: give each package its own CPS", at("PAC", 7, 1)),
                Problem("several SSCCs in one GIN: give each package its own CPS", at("GIN", 8, 2)),
                Problem("the despatch advice has no lines (LIN)", at("UNH", 2)),
            ],
        ),
        (
            (*DESADV_HEADER, "CPS+2+1", "PAC+1++CT", "LIN+1", "QTY+12:1", "RFF+LI:10"),
            [Problem("parent CPS 1 does not come before CPS 2", at("CPS", 6, 2))],
        ),
        (
            (*DESADV_HEADER, "LIN+1", "QTY+12:1", "RFF+LI:10", "DTM+36:20241301:102"),
            [Problem("“20241301” is not a valid date", at("DTM", 9, 1))],
        ),
        (
            ("BGM+351+ASN-9+1", "DTM+11:20240301:102", "RFF+ON:PO-1", "LIN+1", "QTY+12:1", "RFF+LI:10"),
            [Problem("message function 1 is not supported (9 original, 5 replace)", at("BGM", 3, 3))],
        ),
    ],
)
def test_desadv_problems_name_segment_position_and_element(body, expected):
    assert refused(edi(*body)) == expected


# --- ORDRSP -------------------------------------------------------------------------------------


def test_ordrsp_accepted_without_lines_accepts_the_whole_order():
    assert parsed("ordrsp_accept_all.edi").acknowledgements == (
        AcknowledgementInput("PO-100001", lines=(), location=at("RFF", 5, 1)),
    )


def test_ordrsp_accepted_with_lines_accepts_each_line_named():
    data = edi("BGM+231+R+29", "RFF+ON:PO-100001", "LIN+10", "LIN+20", message="ORDRSP:D:96A:UN")

    (acknowledgement,) = parse(io.BytesIO(data)).acknowledgements

    assert acknowledgement.lines == (
        AcknowledgementLineInput(10, "accept", location=at("LIN", 5)),
        AcknowledgementLineInput(20, "accept", location=at("LIN", 6)),
    )


def test_ordrsp_reject_with_reason_and_latin1_note():
    document = parsed("ordrsp_reject.edi")

    assert document.kind == DocumentKind.ACKNOWLEDGEMENT
    assert document.acknowledgements == (
        AcknowledgementInput(
            "PO-100001",
            lines=(
                AcknowledgementLineInput(
                    10, "reject", reason_code="DISCONTINUED", note="Item discontinued", location=at("LIN", 6)
                ),
                AcknowledgementLineInput(20, "reject", location=at("LIN", 8)),
            ),
            note="Werk geschlossen im März",  # UNOC is ISO 8859-1
            location=at("RFF", 4, 1),
        ),
    )


def test_ordrsp_change_of_quantity_price_and_date():
    (acknowledgement,) = parsed("ordrsp_change.edi").acknowledgements

    assert acknowledgement.lines == (
        # RFF+LI names the PO line (10) whatever the LIN's own number (1).
        AcknowledgementLineInput(
            10, "change", Decimal(90), Decimal("13.10"), dt.date(2024, 3, 25), location=at("LIN", 5)
        ),
        AcknowledgementLineInput(20, "accept", Decimal(60), location=at("LIN", 11)),
    )


def test_ordrsp_split_gives_one_answer_per_delivery():
    (acknowledgement,) = parsed("ordrsp_split.edi").acknowledgements

    assert acknowledgement.lines == (
        AcknowledgementLineInput(
            10, "change", Decimal(60), Decimal("12.5"), dt.date(2024, 3, 20), location=at("LIN", 5)
        ),
        AcknowledgementLineInput(
            10, "change", Decimal(40), Decimal("12.5"), dt.date(2024, 4, 10), location=at("LIN", 5)
        ),
    )


def test_ordrsp_backorder_changes_the_date_and_keeps_released_characters():
    (acknowledgement,) = parsed("ordrsp_backorder.edi").acknowledgements

    assert acknowledgement.lines == (
        AcknowledgementLineInput(
            20,
            "change",
            Decimal(60),
            date=dt.date(2024, 5, 1),
            note="Back-ordered: dock 5's gate + 50? surcharge",
            location=at("LIN", 5),
        ),
    )


def test_ordrsp_with_unusual_separators_from_the_una():
    document = parsed("ordrsp_unusual_separators.edi")

    assert (document.sender_id, document.control_number) == ("ACME", "IC2006")
    assert document.acknowledgements[0].lines == (
        AcknowledgementLineInput(
            10,
            "change",
            Decimal("99.5"),  # decimal comma
            Decimal("12.75"),
            note="Price ^ freight incl>tax ~ see\\notes",
            location=at("LIN", 5),
        ),
    )


def test_ordrsp_in_functional_groups():
    document = parsed("ordrsp_groups.edi")

    assert [(a.po_number, a.lines) for a in document.acknowledgements] == [
        ("PO-100001", ()),
        ("PO-100002", (AcknowledgementLineInput(10, "reject", location=at("LIN", 10)),)),
    ]
    assert document.transaction_sets == (
        EdifactMessage("ORDRSP", "M1", "G1", "ORDRSP", "D:96A", position=3, segment_count=4),
        EdifactMessage("ORDRSP", "M2", "G1", "ORDRSP", "D:96A", position=7, segment_count=5),
    )
    assert (document.group_sender_id, document.group_receiver_id) == ("ACME-ERP", "SUPPLYLINE-EDI")


def test_ordrsp_price_per_hundred_units():
    data = edi("BGM+231+R+4", "RFF+ON:PO-1", "LIN+10+3", "PRI+AAA:1250:::100", message="ORDRSP:D:96A:UN")

    (line,) = parse(io.BytesIO(data)).acknowledgements[0].lines

    assert line.unit_price == Decimal("12.5")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            ("BGM+231+R+9", "RFF+ON:PO-1", "LIN+10"),
            [Problem("the line has no action code (LIN 1229) and BGM gives none", at("LIN", 5, 2))],
        ),
        (
            ("BGM+231+R+29", "RFF+ON:PO-1", "LIN+10+7"),
            [Problem("BGM says accepted without amendment, the line says reject", at("LIN", 5, 2))],
        ),
        (
            ("BGM+231+R+4", "RFF+ON:PO-1", "LIN+10+3"),
            [Problem("a changed line needs its quantity (QTY), date (DTM) or price (PRI)", at("LIN", 5, 2))],
        ),
        (
            ("BGM+231+R+27", "RFF+ON:PO-1"),
            [Problem("the order response has no lines (LIN)", at("BGM", 3, 3))],
        ),
        (
            ("BGM+231+R+29",),
            [Problem("the order response names no order (RFF+ON)", at("UNH", 2))],
        ),
        (
            ("BGM+231+R+4", "RFF+ON:PO-1", "LIN+10+3", "RFF+ON:PO-2:10", "QTY+21:5"),
            [Problem("the line answers order PO-2, the message order PO-1", at("RFF", 6, 1))],
        ),
    ],
)
def test_ordrsp_problems_name_segment_position_and_element(body, expected):
    assert refused(edi(*body, message="ORDRSP:D:96A:UN")) == expected


# --- the envelope -------------------------------------------------------------------------------


def test_unt_must_count_the_message_segments():
    data = fixture("desadv_replace.edi").replace(b"UNT+11+1", b"UNT+12+1")

    assert refused(data) == [Problem("UNT counts 12 segments, there are 11", at("UNT", 12, 1))]


def test_unt_reference_must_match_unh():
    data = fixture("desadv_replace.edi").replace(b"UNT+11+1", b"UNT+11+2")

    assert refused(data) == [Problem("reference “2” does not match the UNH's “1”", at("UNT", 12, 2))]


def test_unz_must_count_the_messages_and_match_unb():
    data = fixture("desadv_replace.edi").replace(b"UNZ+1+IC1003", b"UNZ+2+IC1004")

    assert refused(data) == [
        Problem("UNZ counts 2 messages, there are 1", at("UNZ", 13, 1)),
        Problem("reference “IC1004” does not match the UNB's “IC1003”", at("UNZ", 13, 2)),
    ]


def test_une_must_count_the_group_messages_and_unz_the_groups():
    data = fixture("ordrsp_groups.edi").replace(b"UNE+2+G1", b"UNE+3+G2").replace(b"UNZ+1+", b"UNZ+2+")

    assert refused(data) == [
        Problem("UNE counts 3 messages, there are 2", at("UNE", 12, 1)),
        Problem("reference “G2” does not match the UNG's “G1”", at("UNE", 12, 2)),
        Problem("UNZ counts 2 groups, there are 1", at("UNZ", 13, 1)),
    ]


def test_a_file_cut_inside_a_segment_is_refused():
    data = fixture("desadv_replace.edi")
    cut = data[: data.index(b"QTY+12:55") + 5]

    assert refused(cut) == [Problem("the segment has no terminator: the file is cut short", at("QTY", 10))]


def test_a_file_cut_between_segments_names_what_is_missing():
    data = fixture("desadv_replace.edi")
    cut = data[: data.index(b"UNT")]

    assert refused(cut) == [
        Problem("message 1 has no UNT: the file is cut short", at("UNT", 12)),
        Problem("the interchange has no UNZ: the file is cut short", at("UNZ", 12)),
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", Problem("no interchange: the file has no UNB", at("UNB", 1))),
        (b"hello world'", Problem("a segment must start with a three-character tag", at("", 1))),
        (b"UNH+1+DESADV:D:96A:UN'", Problem("an interchange starts with UNB (after an optional UNA)", at("UNH", 1))),
        (b"UNA:+.? 'UNB+UNOY:4+A+B+240301:0930+I1'\xff\xfe'", Problem("bytes that are not valid utf-8", at("", 2))),
        (b"UNB+UNOX:3+A+B+240301:0930+I1'", Problem("character set “UNOX” is not supported", at("UNB", 1, 1))),
        (b"UNA::.? 'UNB'", Problem("the separators must be distinct and not letters, digits or spaces", at("UNA"))),
        (
            b"UNB+UNOC:3" + b"x" * (MAX_SEGMENT_BYTES + CHUNK_SIZE),
            Problem(f"segment longer than {MAX_SEGMENT_BYTES} bytes (no terminator?)", at("UNB", 1)),
        ),
    ],
)
def test_garbage_is_refused_with_where(data, expected):
    assert refused(data)[0] == expected


def test_message_types_and_versions_we_do_not_read_are_refused():
    assert refused(edi("BGM+380+INV-1+9", message="INVOIC:D:96A:UN")) == [
        Problem("message type “INVOIC” is not one we exchange", at("UNH", 2, 2))
    ]
    assert refused(edi("BGM+220+PO-1+9", message="ORDERS:D:96A:UN")) == [
        Problem("we do not read ORDERS messages", at("UNH", 2, 2))
    ]
    assert refused(edi(*DESADV_HEADER, "LIN+1", message="DESADV:D:93A:UN")) == [
        Problem("DESADV D:93A is not supported (D:01B, D:96A)", at("UNH", 2, 2))
    ]


class Trickle(io.RawIOBase):
    """A stream that hands out a few bytes per read, as a pipe or a socket may."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, 3) if size > 0 else 3)


@pytest.mark.parametrize(
    "name", ["ordrsp_backorder.edi", "ordrsp_unusual_separators.edi", "desadv_no_packages_bom_crlf.edi"]
)
def test_short_reads_split_nowhere_else(name):
    # Release characters and terminators fall on read boundaries.
    assert parse(Trickle(fixture(name))) == parsed(name)


def test_newline_as_terminator_and_a_line_break_before_the_una():
    data = b"\r\nUNA:+.? \nUNB+UNOC:3+ACME+US+240301:0930+I1\r\nUNH+1+ORDRSP:D:96A:UN\r\nBGM+231+R+29\r\n"
    data += b"RFF+ON:PO-1\r\nUNT+4+1\r\nUNZ+1+I1\r\n"

    assert parse(io.BytesIO(data)).acknowledgements == (AcknowledgementInput("PO-1", (), location=at("RFF", 4, 1)),)


def test_a_refused_interchange_keeps_its_envelope_for_the_contrl():
    data = fixture("desadv_replace.edi").replace(b"UNT+11+1", b"UNT+12+1")

    with pytest.raises(InterchangeError) as error:
        parse(io.BytesIO(data))

    envelope = error.value.document
    assert envelope is not None
    assert (envelope.sender_id, envelope.control_number, envelope.shipments) == ("ACME", "IC1003", ())
    assert envelope.transaction_sets == (EdifactMessage("DESADV", "1", version="D:96A", position=2, segment_count=11),)


# --- anything in, a document or a DocumentError out ---------------------------------------------


VALID = [fixture(path.name) for path in sorted(FIXTURES.glob("*.edi"))]
TROUBLE = [
    b"'",
    b"+",
    b":",
    b"?",
    b"\r\n",
    b"UNT+1+1'",
    b"UNH+1+DESADV:D:96A:UN'",
    b"UNE+1+G1'",
    b"\xef\xbb\xbf",
    b"\xff",
]


@st.composite
def mutated_fixture(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(data)))
        end = draw(st.integers(start, min(len(data), start + 30)))
        data[start:end] = draw(
            st.sampled_from([b"", *TROUBLE]) | st.binary(max_size=12) | st.just(bytes(data[start:end]) * 2)
        )
    return bytes(data)


def parsed_or_refused(data: bytes) -> ParsedDocument | DocumentError:
    try:
        return parse(io.BytesIO(data))
    except DocumentError as error:
        return error


def parses_or_refuses(data: bytes) -> None:
    # Anything else (IndexError, UnicodeDecodeError, a pydifact exception) fails the test by escaping.
    result = parsed_or_refused(data)
    if isinstance(result, DocumentError):
        assert result.problems
        assert all(isinstance(p, Problem) for p in result.problems)
    else:
        assert isinstance(result, ParsedDocument)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400) | st.builds(lambda b: b"UNA:+.? 'UNB+UNOC:3+" + b, st.binary(max_size=400)))
def test_random_bytes_give_a_document_or_a_document_error(data):
    parses_or_refuses(data)


@settings(max_examples=200, deadline=None)
@given(mutated_fixture())
def test_mutated_fixtures_give_a_document_or_a_document_error(data):
    parses_or_refuses(data)


# --- memory -------------------------------------------------------------------------------------


def large_desadv(lines: int) -> bytes:
    body = [*DESADV_HEADER, "CPS+1"]
    for n in range(1, lines + 1):
        body += [f"LIN+{n}++BRG-{n % 40}:IN", f"QTY+12:{n % 7 + 1}:PCE", f"RFF+ON:PO-{n % 5}:{n % 900 + 1}"]
    return edi(*body)


def test_a_large_despatch_advice_is_read_in_bounded_memory():
    data = large_desadv(20_000)
    stream = io.BytesIO(data)

    tracemalloc.start()
    try:
        document = parse(stream)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(document.shipments[0].lines) == 20_000
    # Beyond the shapes it returns, parsing holds a chunk and a segment or two, never the file.
    assert peak - kept < min(len(data) / 4, 4 * CHUNK_SIZE)


# --- writers ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_orders_from_a_purchase_order(po):
    data = orders(po, sender_id="SUPPLYLINE", receiver_id="ACME", control_number=42, at=PREPARED_AT)

    envelope = read_envelope(io.BytesIO(data))
    assert (envelope.kind, envelope.control_number, envelope.sender_id) == (
        DocumentKind.PURCHASE_ORDER,
        "42",
        "SUPPLYLINE",
    )
    assert envelope.transaction_sets == (EdifactMessage("ORDERS", "1", version="D:96A", position=2, segment_count=18),)
    line_10, line_20 = po.lines.order_by("line_number")
    assert data.startswith(b"UNA:+.? 'UNB+UNOC:3+SUPPLYLINE+ACME+240301:1000+42'")
    assert texts(data)[2:-2] == [
        "BGM+220+PO-100001+9",
        f"DTM+137:{po.order_date:%Y%m%d}:102",
        "NAD+BY+SUPPLYLINE::92",
        "NAD+SU+ACME::92++Acme Industrial Supply",
        f"NAD+DP+{po.site.code}::92++{po.site.name}",
        "CUX+2:USD:9",
        f"LIN+10++{line_10.item.sku}:IN",
        "QTY+21:100:EA",
        f"DTM+2:{line_10.need_by_date:%Y%m%d}:102",
        "PRI+AAA:12.5",
        f"LIN+20++{line_20.item.sku}:IN",
        "QTY+21:60:EA",
        f"DTM+2:{line_20.need_by_date:%Y%m%d}:102",
        "PRI+AAA:12.5",
        "UNS+S",
        "CNT+2:2",
    ]


@pytest.mark.django_db
def test_orders_is_deterministic_escapes_text_and_leaves_out_cancelled_lines():
    supplier = SupplierFactory.create(code="OBRIEN", name="O'Brien + Sons: Bolts? €")
    order = PurchaseOrderFactory.create(
        supplier=supplier, number="PO-7", site=SiteFactory.create(code="DAL1"), revision=2
    )
    PurchaseOrderLineFactory.create(po=order, line_number=1, item=ItemFactory.create(sku="A+B"))
    PurchaseOrderLineFactory.create(po=order, line_number=2, status=LineStatus.CANCELLED)

    first = orders(order, sender_id="US", receiver_id="THEM", control_number=7)
    second = orders(order, sender_id="US", receiver_id="THEM", control_number=7)

    assert first == second
    lines = [s for s in segments(io.BytesIO(first)) if s.tag in ("BGM", "NAD", "LIN", "CNT")]
    assert [s.elements for s in lines] == [
        (("220",), ("PO-7",), ("5",)),  # a later revision replaces the order
        (("BY",), ("US", "", "92")),
        (("SU",), ("OBRIEN", "", "92"), ("",), ("O'Brien + Sons: Bolts? ?",)),
        (("DP",), ("DAL1", "", "92"), ("",), (order.site.name,)),
        (("1",), ("",), ("A+B", "IN")),
        (("2", "1"),),
    ]
    read_envelope(io.BytesIO(first))


def test_contrl_accepting_an_interchange():
    data = contrl(
        parsed("desadv_pallet_two_cartons.edi"), accepted=True, problems=[], control_number=77, at=PREPARED_AT
    )

    assert data == (
        b"UNA:+.? 'UNB+UNOC:3+4012345000009:14+5412345000013:14+240301:1000+77'UNH+1+CONTRL:D:3:UN'"
        b"UCI+IC1001+5412345000013:14+4012345000009:14+7'UCM+1+DESADV:D:96A:UN+7'UNT+4+1'UNZ+1+77'"
    )
    envelope = read_envelope(io.BytesIO(data))
    assert (envelope.kind, envelope.sender_id, envelope.receiver_id) == (
        DocumentKind.FUNCTIONAL_ACK,
        "4012345000009",
        "5412345000013",
    )


def test_contrl_rejecting_points_at_segments_inside_the_message():
    document = parsed("desadv_pallet_two_cartons.edi")
    line = document.shipments[0].lines[0]
    problems = [
        Problem("PO-100001 has no line 10", line.location),
        Problem("more than ordered", at("QTY", 21, 1)),
        Problem("sent twice", at("UNB", 1, 5)),
    ]

    data = contrl(document, accepted=False, problems=problems, control_number=78, at=PREPARED_AT)

    # The UNH is at position 2 of the interchange, so the LIN at 20 is segment 19 of the message.
    assert texts(data)[2:-2] == [
        "UCI+IC1001+5412345000013:14+4012345000009:14+4+18+UNB+5",
        "UCM+1+DESADV:D:96A:UN+4",
        "UCS+19+18",
        "UCS+20",
        "UCD+12+1",
    ]
    read_envelope(io.BytesIO(data))


def test_contrl_for_a_refused_interchange_and_its_groups():
    data = fixture("ordrsp_groups.edi").replace(b"UNT+5+M2", b"UNT+6+M2")
    with pytest.raises(InterchangeError) as error:
        parse(io.BytesIO(data))
    assert error.value.document is not None

    written = contrl(
        error.value.document, accepted=False, problems=error.value.problems, control_number=79, at=PREPARED_AT
    )

    assert texts(written)[2:-2] == [
        "UCI+IC2007+ACME:ZZZ+SUPPLYLINE:ZZZ+4",
        "UCF+G1+ACME-ERP+SUPPLYLINE-EDI+4",
        "UCM+M1+ORDRSP:D:96A:UN+4",
        "UCM+M2+ORDRSP:D:96A:UN+4",
        "UCS+5",
        "UCD+12+1",
    ]


def test_contrl_echoes_the_test_indicator():
    data = fixture("ordrsp_accept_all.edi").replace(b"+IC2001'", b"+IC2001++++++1'")
    document = parse(io.BytesIO(data))
    assert document.test_indicator

    written = contrl(document, accepted=True, control_number=80, at=PREPARED_AT)

    assert texts(written)[0] == "UNB+UNOC:3+SUPPLYLINE:ZZZ+ACME:ZZZ+240301:1000+80++++++1"
    assert read_envelope(io.BytesIO(written)).test_indicator


def test_segments_are_read_back_with_their_positions():
    assert list(segments(io.BytesIO(b"UNA:+.? 'UNB+UNOC:3+A:1'\r\nUNZ+0+X'"))) == [
        Segment("UNB", (("UNOC", "3"), ("A", "1")), 1),
        Segment("UNZ", (("0",), ("X",)), 2),
    ]
