"""X12: the tokenizer and envelope, the 856 and 855 mappers, the 997 and 850 writers.

The fixtures are small interchanges written by hand to the public X12 4010 standard; what each
holds is in the name (and in the test that reads it).
"""

import datetime as dt
import io
import tracemalloc
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from purchasing.documents import x12
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
from purchasing.documents.x12 import Envelope, ProblemLog, Segment, X12DocumentError, X12TransactionSet, tokenize
from purchasing.models import LineStatus
from tests.factories import PurchaseOrderLineFactory

FIXTURES = Path(__file__).parent / "fixtures" / "x12"
AT = dt.datetime(2026, 3, 15, 14, 5, tzinfo=dt.UTC)


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _parse(data: bytes) -> ParsedDocument:
    return x12.parse(io.BytesIO(data))


def _refusal(data: bytes) -> X12DocumentError:
    with pytest.raises(X12DocumentError) as caught:
        _parse(data)
    return caught.value


def _where(error: DocumentError) -> list[tuple[str, int | None, int | None]]:
    return [(p.location.segment, p.location.position, p.location.element) for p in error.problems]


def _segments(data: bytes) -> list[Segment]:
    """Every segment of an interchange whose envelope (counts, control numbers) is right."""
    problems = ProblemLog()
    segments = [segment for _, segment in Envelope(problems).read(tokenize(io.BytesIO(data), problems))]
    assert not problems, problems.problems
    return segments


def _isa(control: int) -> str:
    padded = ["ACMESUPPLY".ljust(15), "SUPPLYLINE".ljust(15)]
    return f"ISA*00*{' ' * 10}*00*{' ' * 10}*ZZ*{padded[0]}*ZZ*{padded[1]}*260315*1402*U*00401*{control:09d}*0*P*>"


def _interchange(code: str, *bodies: list[str], control: int = 900) -> bytes:
    """A right envelope around transaction sets, each given as its segments between ST and SE."""
    functional_id = {"856": "SH", "855": "PR"}.get(code, "PO")
    segments = [_isa(control), f"GS*{functional_id}*ACMESUPPLY*SUPPLYLINE*20260315*1402*{control}*X*004010"]
    for number, body in enumerate(bodies, start=1):
        segments += [f"ST*{code}*{number:04d}", *body, f"SE*{len(body) + 2}*{number:04d}"]
    segments += [f"GE*{len(bodies)}*{control}", f"IEA*1*{control:09d}"]
    return "".join(f"{segment}~\n" for segment in segments).encode()


SHIP_NOTICE_START = ["BSN*00*ASN-1*20260315", "HL*1**S", "HL*2*1*O", "PRF*PO-100001"]
ITEM = ["HL*3*2*I", "LIN*10*BP*SKU-1", "SN1**5*EA"]


# The 856 ship notice


def test_856_with_a_pallet_of_two_cartons_gives_the_packages_and_each_line_in_its_carton():
    parsed = _parse(_fixture("856_pallet_cartons.x12"))

    assert parsed.shipments == (
        ShipmentInput(
            number="ASN-20260315-01",
            ship_date=dt.date(2026, 3, 15),
            estimated_arrival=dt.date(2026, 3, 18),
            carrier_scac="UPSN",
            carrier_name="UPS Freight",
            tracking_number="1Z999AA10123456784",
            ship_from="Acme Industrial Supply\n1200 Foundry Road\nBuilding 4\nDayton, OH 45402 US",
            bill_of_lading="BOL-778812",
            site_code="WH01",
            packages=(
                PackageInput("3", "pallet", "006141410000010011", None, Location("HL", 18)),
                PackageInput("4", "carton", "006141410000010028", "3", Location("HL", 20)),
                PackageInput("6", "carton", "006141410000010035", "3", Location("HL", 27)),
            ),
            lines=(
                ShipmentLineInput(
                    "PO-100001",
                    10,
                    Decimal(40),
                    package_ref="4",
                    item_sku="SKU-000101",
                    lot_number="LOT-2603A",
                    expiry_date=dt.date(2027, 3, 15),
                    location=Location("LIN", 23),
                ),
                ShipmentLineInput(
                    "PO-100001", 20, Decimal(24), package_ref="6", item_sku="SKU-000102", location=Location("LIN", 30)
                ),
                # LIN01 empty: the line number is the PL product id, the lot the LT one.
                ShipmentLineInput(
                    "PO-100001",
                    30,
                    Decimal("6.5"),
                    package_ref="6",
                    item_sku="SKU-000103",
                    lot_number="LOT-77",
                    location=Location("LIN", 33),
                ),
            ),
            replaces=False,
            location=Location("BSN", 4),
        ),
    )
    assert parsed.acknowledgements == ()


def test_856_tells_the_envelope_for_the_functional_acknowledgement():
    parsed = _parse(_fixture("856_pallet_cartons.x12"))

    assert (parsed.format, parsed.kind, parsed.test_indicator) == (DocumentFormat.X12, DocumentKind.SHIP_NOTICE, False)
    assert (parsed.sender_qualifier, parsed.sender_id) == ("ZZ", "ACMESUPPLY")
    assert (parsed.receiver_qualifier, parsed.receiver_id) == ("ZZ", "SUPPLYLINE")
    assert parsed.control_number == "000000101"
    assert (parsed.group_sender_id, parsed.group_receiver_id) == ("ACMESUPPLY", "SUPPLYLINE")
    assert parsed.transaction_sets == (
        X12TransactionSet("856", "0001", "101", "SH", "004010", position=3, end_position=36),
    )


def test_856_without_a_pack_level_gives_loose_lines_of_each_order():
    # CR/LF after every terminator; two orders, the second one's last line named by LIN01 alone.
    parsed = _parse(_fixture("856_loose_items_crlf.x12"))

    assert parsed.shipments == (
        ShipmentInput(
            number="ASN-20260316-07",
            ship_date=dt.date(2026, 3, 16),
            carrier_scac="FDEG",
            carrier_name="FedEx Ground",
            tracking_number="794612345678",
            site_code="WH02",
            lines=(
                ShipmentLineInput("PO-100001", 10, Decimal(100), item_sku="SKU-000101", location=Location("LIN", 13)),
                ShipmentLineInput("PO-100002", 1, Decimal(12), item_sku="SKU-000200", location=Location("LIN", 18)),
                ShipmentLineInput("PO-100002", 2, Decimal(3), location=Location("LIN", 21)),
            ),
            location=Location("BSN", 4),
        ),
    )


def test_856_replace_with_a_newline_terminator_replaces_the_notice_of_the_same_number():
    # Segments end with a bare newline and components are separated by ":"; S-O-P-I, one carton without SSCC.
    parsed = _parse(_fixture("856_replace_newline_terminator.x12"))

    assert parsed.shipments == (
        ShipmentInput(
            number="ASN-20260315-01",
            ship_date=dt.date(2026, 3, 17),
            carrier_scac="ODFL",
            carrier_name="Old Dominion",
            site_code="WH01",
            packages=(
                PackageInput("3", "carton", "006141410000020010", None, Location("HL", 11)),
                PackageInput("5", "carton", "", None, Location("HL", 16)),
            ),
            lines=(
                ShipmentLineInput(
                    "PO-100001", 10, Decimal(36), package_ref="3", item_sku="SKU-000101", location=Location("LIN", 14)
                ),
                ShipmentLineInput(
                    "PO-100001", 20, Decimal(24), package_ref="5", item_sku="SKU-000102", location=Location("LIN", 18)
                ),
            ),
            replaces=True,
            location=Location("BSN", 4),
        ),
    )


def test_856_ship_date_falls_back_to_the_notice_date_without_dtm_011():
    parsed = _parse(_interchange("856", [*SHIP_NOTICE_START, *ITEM]))

    assert parsed.shipments[0].ship_date == dt.date(2026, 3, 15)


@pytest.mark.parametrize(
    ("body", "where", "mentions"),
    [
        (["BSN*00*ASN-1*20260315", "HL*1**S", "HL*2*1*I", "LIN*10", "SN1**5"], ("HL", 6, 2), "below an order"),
        ([*SHIP_NOTICE_START, "HL*3*9*I", "LIN*10", "SN1**5"], ("HL", 8, 2), "'9'"),
        ([*SHIP_NOTICE_START, "HL*2*1*P", *ITEM], ("HL", 8, 1), "used twice"),
        (["BSN*00*ASN-1*20260315", "HL*1**O", "PRF*PO-1", "HL*2*1*I", "LIN*1", "SN1**1"], ("HL", 5, None), "first HL"),
        (["BSN*00*ASN-1*20260315", "HL*1**S", "HL*2*1*O", *ITEM], ("HL", 6, None), "no PRF"),
        ([*SHIP_NOTICE_START, "HL*3*2*I", "SN1**5"], ("HL", 8, None), "no LIN"),
        ([*SHIP_NOTICE_START, "HL*3*2*I", "LIN*10"], ("HL", 8, None), "no SN1"),
        ([*SHIP_NOTICE_START, "HL*3*2*I", "LIN*X", "SN1**5"], ("LIN", 9, 1), "'X' is not a whole number"),
        ([*SHIP_NOTICE_START, "HL*3*2*I", "LIN*10", "SN1**0"], ("SN1", 10, 2), "more than zero"),
        ([*SHIP_NOTICE_START, "HL*3*2*I", "LIN*10", "SN1**1e3"], ("SN1", 10, 2), "'1e3' is not a number"),
        ([*SHIP_NOTICE_START, "HL*3*2*P", "MAN*GM*006141410000010012", *ITEM[1:]], ("MAN", 9, 2), "check digit"),
        ([*SHIP_NOTICE_START, *ITEM, "DTM*036*20270230"], ("DTM", 11, 2), "not a date"),
        (["BSN*01*ASN-1*20260315", *SHIP_NOTICE_START[1:], *ITEM], ("BSN", 4, 1), "00 (original) or 05"),
        ([*SHIP_NOTICE_START, "LIN*10", *ITEM], ("LIN", 8, None), "item loop"),
        ([*SHIP_NOTICE_START, "HL*3*2*X", *ITEM], ("HL", 8, 3), "S, O, T, P or I"),
        ([*SHIP_NOTICE_START, *ITEM, "CTT*4"], ("CTT", 11, 1), "says 4 HL segments"),
        (["HL*1**S", "HL*2*1*O", "PRF*PO-1", *ITEM], ("BSN", 3, None), "no BSN"),
        (["BSN*00*ASN-1*20260315", "HL*1**S"], ("HL", 3, None), "ships no items"),
    ],
)
def test_856_problems_name_the_segment_position_and_element(body, where, mentions):
    error = _refusal(_interchange("856", body))

    assert where in _where(error)
    assert mentions in str(error)
    assert error.document is not None
    assert error.document.shipments == ()


# The 855 acknowledgement


def test_855_accepting_every_line_with_a_bom_and_crlf():
    parsed = _parse(_fixture("855_accept_bom.x12"))

    assert parsed.kind == DocumentKind.ACKNOWLEDGEMENT
    assert parsed.acknowledgements == (
        AcknowledgementInput(
            "PO-100001",
            (
                AcknowledgementLineInput(
                    10, "accept", Decimal(100), Decimal("12.5"), dt.date(2026, 3, 22), location=Location("ACK", 6)
                ),
                AcknowledgementLineInput(20, "accept", Decimal(60), Decimal(8), location=Location("ACK", 8)),
            ),
            location=Location("BAK", 4),
        ),
    )


def test_855_rejecting_takes_the_reason_code_from_ack29_when_there_is_one():
    parsed = _parse(_fixture("855_reject.x12"))

    assert parsed.acknowledgements[0].lines == (
        AcknowledgementLineInput(10, "reject", reason_code="CAPACITY", location=Location("ACK", 6)),
        AcknowledgementLineInput(20, "reject", location=Location("ACK", 8)),
    )


def test_855_changes_of_quantity_price_and_date_with_pipe_separators():
    # Elements separated by "|", repetitions by "^", no line breaks; PO1 40 has no ACK and BAK02 is AC.
    parsed = _parse(_fixture("855_change_pipe_separators.x12"))

    assert parsed.acknowledgements[0].lines == (
        AcknowledgementLineInput(10, "change", Decimal(80), Decimal("12.5"), location=Location("ACK", 6)),
        AcknowledgementLineInput(20, "change", Decimal(60), Decimal("8.25"), location=Location("ACK", 8)),
        AcknowledgementLineInput(
            30, "change", Decimal(10), Decimal(4), dt.date(2026, 4, 5), location=Location("ACK", 10)
        ),
        AcknowledgementLineInput(40, "accept", Decimal(5), Decimal("99.5"), location=Location("PO1", 11)),
    )


def test_855_two_acks_for_one_line_split_it_into_deliveries():
    parsed = _parse(_fixture("855_split.x12"))

    assert parsed.acknowledgements[0].lines == (
        AcknowledgementLineInput(
            20, "accept", Decimal(40), Decimal(8), dt.date(2026, 3, 20), location=Location("ACK", 6)
        ),
        AcknowledgementLineInput(
            20, "change", Decimal(20), Decimal(8), dt.date(2026, 4, 10), location=Location("ACK", 7)
        ),
    )


def test_855_backordered_is_a_change_to_the_new_date():
    parsed = _parse(_fixture("855_backorder.x12"))

    assert parsed.acknowledgements[0].lines == (
        AcknowledgementLineInput(
            10, "change", Decimal(100), Decimal("12.5"), dt.date(2026, 5, 1), location=Location("ACK", 6)
        ),
    )


def test_855_several_sets_in_one_interchange_answer_one_po_each():
    parsed = _parse(_fixture("855_two_sets.x12"))

    assert [a.location for a in parsed.acknowledgements] == [Location("BAK", 4), Location("BAK", 12)]
    assert [s.control_number for s in parsed.transaction_sets] == ["0001", "0002"]


ACK_START = ["BAK*00*AC*PO-100001*20260301", "PO1*10*100*EA*12.5**BP*SKU-1"]


@pytest.mark.parametrize(
    ("body", "where", "mentions"),
    [
        ([*ACK_START, "ACK*ZZ*100"], ("ACK", 6, 1), "'ZZ' is not one we take"),
        ([*ACK_START, "ACK*IB*100*EA"], ("ACK", 6, 5), "backordered line needs the date"),
        ([*ACK_START, "ACK*IA*60*EA*068*20260320", "ACK*IB**EA*068*20260420"], ("ACK", 7, 2), "needs its quantity"),
        ([*ACK_START, "ACK*IA*60*EA*068*20260320", "ACK*IA*40*EA"], ("ACK", 7, 5), "needs its date"),
        ([*ACK_START, "ACK*DR*100*EA*002*20260320"], ("ACK", 6, 4), "068 (ship)"),
        ([*ACK_START, "ACK*DR*100*EA**20260320"], ("ACK", 6, 4), "needs its qualifier"),
        (["BAK*00*AH*PO-100001", "PO1*10*100"], ("PO1", 5, None), "no ACK segment"),
        (["BAK*00*AC*PO-100001", "ACK*IA", "PO1*10*100", "ACK*IA"], ("ACK", 5, None), "must follow the PO1"),
        (["BAK*00*AC", "PO1*10*100", "ACK*IA"], ("BAK", 4, 3), "PO number is missing"),
        (["PO1*10*100", "ACK*IA"], ("BAK", 3, None), "no BAK"),
        ([*ACK_START, "ACK*IA", "CTT*2"], ("CTT", 7, 1), "says 2 PO1"),
    ],
)
def test_855_problems_name_the_segment_position_and_element(body, where, mentions):
    error = _refusal(_interchange("855", body))

    assert where in _where(error)
    assert mentions in str(error)


# The envelope


def _with(name: str, old: bytes, new: bytes) -> bytes:
    data = _fixture(name)
    assert old in data
    return data.replace(old, new)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (_with("856_pallet_cartons.x12", b"SE*34*0001", b"SE*33*0001"), [("SE", 36, 1)]),
        (_with("856_pallet_cartons.x12", b"SE*34*0001", b"SE*34*0002"), [("SE", 36, 2)]),
        (_with("856_pallet_cartons.x12", b"GE*1*101", b"GE*2*101"), [("GE", 37, 1)]),
        (_with("856_pallet_cartons.x12", b"GE*1*101", b"GE*1*102"), [("GE", 37, 2)]),
        (_with("856_pallet_cartons.x12", b"IEA*1*000000101", b"IEA*2*000000102"), [("IEA", 38, 1), ("IEA", 38, 2)]),
        (_with("856_pallet_cartons.x12", b"ACMESUPPLY     ", b"ACMESUPPLY"), [("ISA", 1, 6)]),
        (_with("856_pallet_cartons.x12", b"*0*P*", b"*0*X*"), [("ISA", 1, 15)]),
        (_with("856_pallet_cartons.x12", b"*000000101*", b"*00000010A*"), [("ISA", 1, 13), ("IEA", 38, 2)]),
        (_with("856_pallet_cartons.x12", b"SE*34*0001~\n", b""), [("SE", 36, None)]),
        (_with("856_pallet_cartons.x12", b"GE*1*101~\n", b""), [("GE", 37, None)]),
        (_with("856_pallet_cartons.x12", b"IEA*1*000000101~\n", b""), [("IEA", 38, None)]),
        (_with("856_pallet_cartons.x12", b"IEA*1*000000101~\n", b"IEA*1*000000101~\nGS*SH~\n"), [("GS", 39, None)]),
        (_with("856_pallet_cartons.x12", b"HL*1**S~", b"HL*1**S~hl*2~"), [("", 6, None)]),
        (_with("856_pallet_cartons.x12", b"ST*856*0001~\n", b""), [("BSN", 3, None), ("SE", 35, None), ("GE", 36, 1)]),
        (_with("855_change_pipe_separators.x12", b"SE|11|0001", b"SE|12|0001"), [("SE", 13, 1)]),
        (_with("856_replace_newline_terminator.x12", b"GE*1*103", b"GE*1*1"), [("GE", 21, 2)]),
    ],
    ids=[
        "SE count",
        "SE control number",
        "GE count",
        "GE control number",
        "IEA count and control number",
        "ISA06 not padded",
        "ISA15 usage",
        "ISA13 not digits",
        "SE missing",
        "GE missing",
        "IEA missing",
        "after IEA",
        "not a segment tag",
        "ST missing",
        "pipe-separated SE count",
        "newline-terminated GE control number",
    ],
)
def test_envelope_problems_name_the_segment_position_and_element(data, where):
    error = _refusal(data)

    assert _where(error) == where


def test_an_isa_out_of_shape_is_refused_with_no_997_to_send():
    # ISA06 trimmed of its padding: the sender's ids cannot be echoed in a well-formed ISA (that calls for a TA1).
    error = _refusal(_with("856_pallet_cartons.x12", b"ACMESUPPLY     ", b"ACMESUPPLY"))

    assert error.document is None


def test_an_interchange_without_transaction_sets_is_refused():
    data = _interchange("856")

    error = _refusal(data)

    assert str(error) == "The interchange holds no ship notice and no acknowledgement."


def test_a_truncated_isa_is_refused_at_the_isa():
    error = _refusal(_fixture("856_pallet_cartons.x12")[:80])

    assert _where(error) == [("ISA", 1, None)]
    assert "ISA segment is incomplete" in str(error)
    assert error.document is None  # no one to answer


@pytest.mark.parametrize("data", [b"hello, this is not EDI", b"UNB+UNOC:3+ACME", b"\x00\x01\x02", b"<?xml?>"])
def test_garbage_is_refused_at_position_1(data):
    error = _refusal(data)

    assert _where(error) == [("ISA", 1, None)]


def test_an_empty_file_is_refused():
    assert str(_refusal(b"")) == "The file is empty."


def test_a_file_cut_inside_a_segment_says_where_it_ends_and_still_has_its_envelope():
    error = _refusal(_fixture("856_pallet_cartons.x12")[:500])

    assert _where(error) == [("", 15, None)]
    assert error.document is not None
    assert error.document.transaction_sets[0].control_number == "0001"


def test_bytes_that_are_not_utf8_are_refused_at_the_segment_holding_them():
    error = _refusal(_with("856_pallet_cartons.x12", b"UPS Freight", b"UPS Fr\xe9ight"))

    assert _where(error) == [("", 7, None)]
    assert "not UTF-8" in str(error)


@pytest.mark.parametrize(("element", "component", "segment"), [("*", "*", "~"), ("A", ">", "~"), ("*", ">", " ")])
def test_delimiters_that_cannot_be_told_apart_from_data_are_refused(element, component, segment):
    header = _isa(1).replace("*", element)[:-1] + component + segment

    error = _refusal(f"{header}GS{element}SH{segment}".encode())

    assert _where(error) == [("ISA", 1, None)]


def test_a_refusal_carries_the_envelope_and_each_sets_problems_for_the_997():
    data = _with("856_pallet_cartons.x12", b"LIN*20*BP", b"LIN*X*BP").replace(b"SE*34*0001", b"SE*30*0001")

    error = _refusal(data)

    assert error.document is not None
    assert (error.document.sender_id, error.document.control_number) == ("ACMESUPPLY", "000000101")
    assert error.document.shipments == ()
    (transaction_set,) = error.document.transaction_sets
    assert [(p.location.segment, p.location.position) for p in transaction_set.problems] == [("LIN", 30), ("SE", 36)]


def test_an_850_is_not_read_but_is_named_for_the_997():
    error = _refusal(_interchange("850", ["BEG*00*SA*PO-1**20260315"]))

    assert _where(error) == [("ST", 3, 1)]
    assert error.document is not None
    assert error.document.kind == DocumentKind.PURCHASE_ORDER


def test_ship_notices_and_acknowledgements_do_not_mix_in_one_interchange():
    data = _interchange("856", [*SHIP_NOTICE_START, *ITEM]).replace(
        b"SE*9*0001~\n", b"SE*9*0001~\nST*855*0002~\nSE*2*0002~\n"
    )

    error = _refusal(data.replace(b"GE*1*", b"GE*2*"))

    assert ("ST", 12, 1) in _where(error)
    assert "one kind" in str(error)


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64 * 1024])
@pytest.mark.parametrize("name", ["856_pallet_cartons.x12", "855_accept_bom.x12", "855_change_pipe_separators.x12"])
def test_segments_read_the_same_whatever_the_chunk_boundaries(name, chunk_size):
    data = _fixture(name)
    expected = _segments(data)
    problems = ProblemLog()

    assert list(tokenize(io.BytesIO(data), problems, chunk_size=chunk_size)) == expected
    assert not problems


def test_a_character_split_between_two_chunks_is_read_whole():
    data = _interchange("856", [*SHIP_NOTICE_START[:2], "N1*SF*Müller Ätzwerk GmbH", *SHIP_NOTICE_START[2:], *ITEM])
    problems = ProblemLog()

    names = [s.element(2) for s in tokenize(io.BytesIO(data), problems, chunk_size=1) if s.tag == "N1"]

    assert names == ["Müller Ätzwerk GmbH"]
    assert not problems


# Whatever the bytes: a ParsedDocument or a DocumentError, never another exception


def _parses_or_refuses(data: bytes) -> None:
    try:
        outcome: ParsedDocument | DocumentError = _parse(data)
    except DocumentError as error:
        outcome = error
    assert isinstance(outcome, ParsedDocument) or outcome.problems


VALID = [
    _fixture(name)
    for name in (
        "856_pallet_cartons.x12",
        "856_replace_newline_terminator.x12",
        "855_accept_bom.x12",
        "855_change_pipe_separators.x12",
    )
]
NOISE = st.binary(max_size=6) | st.sampled_from(
    [b"*", b"~", b">", b"|", b"^", b"\n", b"\r\n", b"\xef\xbb\xbf", b"\xff", b"\xc3", b"~SE*", b"~HL*1**S~", b"ISA*"]
)


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(data)))
        end = draw(st.integers(start, min(len(data), start + 40)))
        data[start:end] = draw(NOISE)  # an insertion, a deletion or a replacement
    if draw(st.booleans()):
        del data[draw(st.integers(0, len(data))) :]
    return bytes(data)


# The autouse fixtures of tests/conftest.py (settings, cache) play no part in parsing.
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_parse_or_raise_document_error(data):
    _parses_or_refuses(data)


@FUZZ
@given(st.binary(max_size=500))
def test_random_bytes_after_a_valid_isa_parse_or_raise_document_error(data):
    _parses_or_refuses(VALID[0][:107] + data)


@FUZZ
@given(_mutated())
def test_mutated_interchanges_parse_or_raise_document_error(data):
    _parses_or_refuses(data)


# Streaming: memory does not grow with the file


def _write_large_856(file: BinaryIO, items: int) -> None:
    """One 856 of one order with ``items`` item loops, written segment by segment."""
    segments = ["BSN*00*ASN-BIG*20260315", "HL*1**S", "DTM*011*20260315", "HL*2*1*O", "PRF*PO-100001"]
    file.write(f"{_isa(9)}~\nGS*SH*ACMESUPPLY*SUPPLYLINE*20260315*1402*9*X*004010~\nST*856*0001~\n".encode())
    file.write("".join(f"{segment}~\n" for segment in segments).encode())
    for i in range(items):
        loop = [
            f"HL*{i + 3}*2*I",
            f"LIN*{i + 1}*BP*SKU-{i % 500:06d}*VP*ACME-{i:08d}*UP*0{i:011d}",
            f"SN1**{1 + i % 7}*EA",
            f"PO4*1*{1 + i % 7}*EA",
            f"PID*F****Widget, zinc-plated steel, {i % 50} mm, box of 100",
            f"REF*LT*LOT-{i % 97:04d}",
            "DTM*036*20270315",
        ]
        file.write("".join(f"{segment}~\n" for segment in loop).encode())
    count = 1 + len(segments) + 7 * items + 2
    file.write(f"CTT*{items + 2}~\nSE*{count}*0001~\nGE*1*9~\nIEA*1*000000009~\n".encode())


def _traced[T](read: Callable[[], T]) -> tuple[T, int, int]:
    """What ``read`` returns, the memory it still holds afterwards and its peak."""
    tracemalloc.start()
    try:
        result = read()
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, retained, peak


@pytest.fixture(scope="module")
def large_856(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("x12") / "large_856.x12"
    with path.open("wb") as file:
        _write_large_856(file, items=20_000)
    return path


def _count_segments(file: BinaryIO) -> int:
    problems = ProblemLog()
    count = sum(1 for _ in Envelope(problems).read(tokenize(file, problems)))
    assert not problems, problems.problems
    return count


def test_the_tokenizer_reads_a_large_interchange_in_memory_independent_of_its_size(large_856, tmp_path):
    small = tmp_path / "small_856.x12"
    with small.open("wb") as file:
        _write_large_856(file, items=2_000)

    with small.open("rb") as file:
        _, _, small_peak = _traced(lambda: _count_segments(file))
    with large_856.open("rb") as file:
        count, _, peak = _traced(lambda: _count_segments(file))

    assert count == 3 + 5 + 7 * 20_000 + 4
    assert peak < large_856.stat().st_size / 4
    assert peak < small_peak * 1.5  # ten times the file, not ten times the memory


def test_parsing_a_large_856_holds_little_beyond_the_shipment_it_builds(large_856):
    # The shapes of 20,000 lines outweigh the file itself; what must stay small is everything else:
    # neither the file nor a list of its segments is ever held.
    with large_856.open("rb") as file:
        parsed, retained, peak = _traced(lambda: x12.parse(file))

    assert len(parsed.shipments[0].lines) == 20_000
    assert peak - retained < large_856.stat().st_size / 4


# The 997 functional acknowledgement


def _ack_997(parsed: ParsedDocument, *, accepted: bool, problems: Sequence[Problem] = ()) -> bytes:
    return x12.functional_ack_997(
        parsed,
        accepted=accepted,
        problems=problems,
        sender_id="SUPPLYLINE",
        sender_qualifier="ZZ",
        control_number=8,
        at=AT,
    )


def test_997_accepting_an_interchange():
    parsed = _parse(_fixture("856_pallet_cartons.x12"))

    written = x12.functional_ack_997(
        parsed, accepted=True, sender_id="SUPPLYLINE", sender_qualifier="ZZ", control_number=7, at=AT
    )

    assert written.decode() == (
        "ISA*00*          *00*          *ZZ*SUPPLYLINE     *ZZ*ACMESUPPLY     *260315*1405*U*00401*000000007*0*P*>~\n"
        "GS*FA*SUPPLYLINE*ACMESUPPLY*20260315*1405*7*X*004010~\n"
        "ST*997*0001~\n"
        "AK1*SH*101~\n"
        "AK2*856*0001~\n"
        "AK5*A~\n"
        "AK9*A*1*1*1~\n"
        "SE*6*0001~\n"
        "GE*1*7~\n"
        "IEA*1*000000007~\n"
    )


def test_997_rejecting_names_the_segment_and_element_in_error():
    data = _with("856_pallet_cartons.x12", b"LIN*20*BP", b"LIN*X*BP").replace(b"SE*34*0001", b"SE*30*0001")
    error = _refusal(data)
    assert error.document is not None

    written = _ack_997(error.document, accepted=False, problems=error.problems)

    body = [s.elements for s in _segments(written)[3:-3]]
    assert body == [
        ("AK1", "SH", "101"),
        ("AK2", "856", "0001"),
        ("AK3", "LIN", "28", "", "8"),  # position 30 in the interchange, 28 counting from the ST
        ("AK4", "1", "", "7"),
        ("AK5", "R", "5", "4"),  # segments in error; SE count wrong
        ("AK9", "R", "1", "1", "0"),
    ]


def test_997_reports_a_missing_mandatory_segment_at_the_start_of_its_set():
    error = _refusal(_interchange("856", ["HL*1**S", "HL*2*1*O", "PRF*PO-1", *ITEM]))
    assert error.document is not None

    written = _ack_997(error.document, accepted=False, problems=error.problems)

    body = [s.elements for s in _segments(written)[3:-3]]
    assert body == [
        ("AK1", "SH", "900"),
        ("AK2", "856", "0001"),
        ("AK3", "BSN", "1", "", "3"),
        ("AK5", "R", "5"),
        ("AK9", "R", "1", "1", "0"),
    ]


def test_997_places_a_services_problem_in_the_set_holding_its_position():
    parsed = _parse(_fixture("855_two_sets.x12"))
    refusal = Problem("There is no purchase order 'PO-100001' of yours.", Location("BAK", 12))

    written = _ack_997(parsed, accepted=False, problems=[refusal])

    body = [s.elements for s in _segments(written)[3:-3]]
    assert body == [
        ("AK1", "PR", "206"),
        ("AK2", "855", "0001"),
        ("AK5", "R"),
        ("AK2", "855", "0002"),
        ("AK3", "BAK", "2", "", "8"),
        ("AK5", "R", "5"),
        ("AK9", "R", "2", "2", "0"),
    ]


def test_997_has_one_transaction_set_per_functional_group_and_counts_right():
    two_groups = _fixture("855_backorder.x12").replace(
        b"IEA*1*000000205",
        b"GS*PR*ACMESUPPLY*SUPPLYLINE*20260315*1402*206*X*004010~\nST*855*0001~\n"
        b"BAK*00*AC*PO-100002*20260301~\nPO1*1*5*EA*2~\nACK*IA~\nSE*5*0001~\nGE*1*206~\nIEA*2*000000205",
    )
    parsed = _parse(two_groups)

    segments = _segments(_ack_997(parsed, accepted=True))

    assert [s.elements for s in segments if s.tag in ("ST", "AK1", "SE", "GE")] == [
        ("ST", "997", "0001"),
        ("AK1", "PR", "205"),
        ("SE", "6", "0001"),
        ("ST", "997", "0002"),
        ("AK1", "PR", "206"),
        ("SE", "6", "0002"),
        ("GE", "2", "8"),
    ]


def test_997_answers_a_test_interchange_as_a_test():
    parsed = _parse(_with("855_split.x12", b"*0*P*", b"*0*T*"))

    written = _ack_997(parsed, accepted=True)

    assert _segments(written)[0].element(15) == "T"


# The 850 purchase order


@pytest.mark.django_db
def test_850_of_a_po_parses_back_with_its_lines_and_counts(po):
    written = x12.purchase_order_850(
        po,
        sender_id="SUPPLYLINE",
        sender_qualifier="ZZ",
        receiver_id="ACMESUPPLY",
        receiver_qualifier="ZZ",
        control_number=42,
        at=AT,
    )

    segments = _segments(written)  # the envelope check: SE, GE and IEA counts and control numbers
    first, second = po.lines.order_by("line_number")
    body = [s.elements for s in segments[3:-3]]
    assert body == [
        ("BEG", "00", "SA", "PO-100001", "", po.order_date.strftime("%Y%m%d")),
        ("CUR", "BY", "USD"),
        ("REF", "IA", po.supplier.erp_vendor_id),
        ("DTM", "004", po.order_date.strftime("%Y%m%d")),
        ("N1", "ST", po.site.name, "92", po.site.code),
        ("PO1", "10", "100", "EA", "12.5", "", "BP", first.item.sku),
        ("PID", "F", "", "", "", first.item.description),
        ("DTM", "002", first.need_by_date.strftime("%Y%m%d")),
        ("PO1", "20", "60", "EA", "12.5", "", "BP", second.item.sku),
        ("PID", "F", "", "", "", second.item.description),
        ("DTM", "002", second.need_by_date.strftime("%Y%m%d")),
        ("CTT", "2", "160"),
    ]
    assert segments[0].elements[5:9] == ("ZZ", "SUPPLYLINE     ", "ZZ", "ACMESUPPLY     ")
    assert segments[-3].elements == ("SE", "14", "0001")


@pytest.mark.django_db
def test_850_of_a_revised_po_replaces_it_without_its_cancelled_lines(po):
    PurchaseOrderLineFactory.create(po=po, line_number=30, status=LineStatus.CANCELLED)
    po.revision = 2

    segments = _segments(
        x12.purchase_order_850(
            po,
            sender_id="SUPPLYLINE",
            sender_qualifier="ZZ",
            receiver_id="ACMESUPPLY",
            receiver_qualifier="ZZ",
            control_number=43,
            at=AT,
            test=True,
        )
    )

    assert segments[3].elements[:2] == ("BEG", "05")
    assert [s.element(1) for s in segments if s.tag == "PO1"] == ["10", "20"]
    assert segments[0].element(15) == "T"


@pytest.mark.django_db
def test_850_refuses_an_isa_id_longer_than_15_characters(po):
    with pytest.raises(ValueError, match="1 to 15 characters"):
        x12.purchase_order_850(
            po,
            sender_id="SUPPLYLINE-PORTAL",
            sender_qualifier="ZZ",
            receiver_id="ACMESUPPLY",
            receiver_qualifier="ZZ",
            control_number=44,
            at=AT,
        )
