import csv
import dataclasses
import datetime as dt
import io
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from purchasing.documents import spreadsheet
from purchasing.documents.shapes import (
    AcknowledgementInput,
    AcknowledgementLineInput,
    DocumentError,
    DocumentFormat,
    DocumentKind,
    Location,
    PackageInput,
    ParsedDocument,
    ShipmentInput,
    ShipmentLineInput,
)
from purchasing.documents.spreadsheet import (
    ACKNOWLEDGEMENT_COLUMNS,
    ASN_COLUMNS,
    parse_csv,
    parse_xlsx,
    template_csv,
    template_xlsx,
)

FIXTURES = Path(__file__).parent / "fixtures" / "spreadsheet"
ASN = DocumentKind.SHIP_NOTICE
ACK = DocumentKind.ACKNOWLEDGEMENT
ASN_NAMES = [c.name for c in ASN_COLUMNS]
ACK_NAMES = [c.name for c in ACKNOWLEDGEMENT_COLUMNS]

# The shipment of the fixtures: pallet P1 holding cartons C1 and C2, one PO line in each.
SHIPMENT = {
    "asn_number": "ASN-2001",
    "ship_date": "2026-03-02",
    "estimated_arrival": "2026-03-04",
    "carrier_scac": "UPSN",
    "carrier_name": "UPS",
    "tracking_number": "1Z999AA10123456784",
    "ship_from": "ACME Ltd, 1 Dock Road, Leeds",
    "bill_of_lading": "BOL-5521",
    "ship_to_site": "DC1",
}
PALLET = SHIPMENT | {"package_ref": "P1", "package_type": "pallet", "package_sscc": "006141410000000043"}
CARTON_1 = SHIPMENT | {
    "po_number": "PO-1001",
    "po_line": "10",
    "item_sku": "ITEM-100",
    "quantity": "24",
    "lot_number": "L2026-01",
    "expiry_date": "2027-03-31",
    "package_ref": "C1",
    "package_type": "carton",
    "package_sscc": "006141410000000050",
    "parent_package_ref": "P1",
}
CARTON_2 = SHIPMENT | {
    "po_number": "PO-1001",
    "po_line": "20",
    "item_sku": "ITEM-200",
    "quantity": "12.5",
    "package_ref": "C2",
    "package_type": "carton",
    "package_sscc": "006141410000000067",
    "parent_package_ref": "P1",
}
# A line shipped loose: what a one-row file needs.
LOOSE = {column: value for column, value in CARTON_1.items() if "package" not in column}

EXPECTED_SHIPMENT = ShipmentInput(
    number="ASN-2001",
    ship_date=dt.date(2026, 3, 2),
    estimated_arrival=dt.date(2026, 3, 4),
    carrier_scac="UPSN",
    carrier_name="UPS",
    tracking_number="1Z999AA10123456784",
    ship_from="ACME Ltd, 1 Dock Road, Leeds",
    bill_of_lading="BOL-5521",
    site_code="DC1",
    packages=(
        PackageInput("P1", "pallet", "006141410000000043", None, Location(row=2)),
        PackageInput("C1", "carton", "006141410000000050", "P1", Location(row=3)),
        PackageInput("C2", "carton", "006141410000000067", "P1", Location(row=4)),
    ),
    lines=(
        ShipmentLineInput(
            po_number="PO-1001",
            line_number=10,
            quantity=Decimal(24),
            package_ref="C1",
            item_sku="ITEM-100",
            lot_number="L2026-01",
            expiry_date=dt.date(2027, 3, 31),
            location=Location(row=3),
        ),
        ShipmentLineInput(
            po_number="PO-1001",
            line_number=20,
            quantity=Decimal("12.5"),
            package_ref="C2",
            item_sku="ITEM-200",
            location=Location(row=4),
        ),
    ),
    location=Location(row=2),
)


def excel_datetime(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    """What a date cell holds to openpyxl: Excel date-times have no time zone."""
    return dt.datetime.combine(dt.date(year, month, day), dt.time(hour, minute))


def fixture(name: str) -> io.BytesIO:
    return io.BytesIO((FIXTURES / name).read_bytes())


def table(rows, columns, delimiter=",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    return out.getvalue().encode()


def asn_csv(*rows, columns=ASN_NAMES) -> io.BytesIO:
    return io.BytesIO(table(rows, columns))


def ack_csv(*rows, columns=ACK_NAMES) -> io.BytesIO:
    return io.BytesIO(table(rows, columns))


def xlsx(*rows) -> io.BytesIO:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    out.seek(0)
    return out


def where(error: pytest.ExceptionInfo[DocumentError]) -> list[tuple[int | None, str]]:
    return [(p.location.row, p.location.column) for p in error.value.problems]


def ack(row, line, action, **values) -> AcknowledgementLineInput:
    return AcknowledgementLineInput(line_number=line, action=action, location=Location(row=row), **values)


# --- ship notices --------------------------------------------------------------------


def test_asn_csv_with_a_pallet_holding_two_cartons():
    document = parse_csv(fixture("asn_pallet_two_cartons.csv"), kind=ASN)

    assert document == ParsedDocument(format=DocumentFormat.CSV, kind=ASN, shipments=(EXPECTED_SHIPMENT,))


@pytest.mark.parametrize("name", ["asn_semicolon.csv", "asn_bom.csv"])
def test_semicolons_decimal_commas_bom_crlf_header_case_and_column_order_read_the_same(name):
    document = parse_csv(fixture(name), kind=ASN)

    assert document.shipments == (EXPECTED_SHIPMENT,)


def test_asn_xlsx_with_excel_dates_and_numbers_reads_the_same():
    rows = [
        {**row, "ship_date": excel_datetime(2026, 3, 2), "estimated_arrival": dt.date(2026, 3, 4)}
        for row in (PALLET, CARTON_1, CARTON_2)
    ]
    rows[1] |= {"po_line": 10, "quantity": 24, "expiry_date": excel_datetime(2027, 3, 31)}
    rows[2] |= {"po_line": 20.0, "quantity": 12.5}
    stream = xlsx(ASN_NAMES, *([row.get(name) for name in ASN_NAMES] for row in rows))

    document = parse_xlsx(stream, kind=ASN)

    assert document == ParsedDocument(format=DocumentFormat.XLSX, kind=ASN, shipments=(EXPECTED_SHIPMENT,))


def test_xlsx_numbers_become_the_decimals_excel_shows():
    columns = ["asn_number", "ship_date", "po_number", "po_line", "quantity"]
    stream = xlsx(columns, ["A1", "2026-03-02", 4500012345, 10, 0.1 + 0.2], ["A1", "2026-03-02", "PO-2", 20, 12.5])

    lines = parse_xlsx(stream, kind=ASN).shipments[0].lines

    assert [(line.po_number, line.quantity) for line in lines] == [
        ("4500012345", Decimal("0.3")),
        ("PO-2", Decimal("12.5")),
    ]
    assert str(lines[1].quantity) == "12.5"


def test_several_ship_notices_and_loose_lines_in_one_file():
    second = SHIPMENT | {"asn_number": "ASN-2002", "po_number": "PO-7", "po_line": "1", "quantity": "3"}

    document = parse_csv(asn_csv(PALLET, CARTON_1, second, CARTON_2), kind=ASN)

    assert [s.number for s in document.shipments] == ["ASN-2001", "ASN-2002"]
    first, second = EXPECTED_SHIPMENT.lines
    assert document.shipments[0].lines == (first, dataclasses.replace(second, location=Location(row=5)))
    assert document.shipments[1].lines[0].package_ref is None
    assert document.shipments[1].packages == ()


def test_a_carton_holding_two_lines_repeats_its_package_columns():
    other_line = CARTON_1 | {"po_line": "30", "item_sku": "", "lot_number": "", "expiry_date": ""}

    shipment = parse_csv(asn_csv(PALLET, CARTON_1, other_line), kind=ASN).shipments[0]

    assert [p.ref for p in shipment.packages] == ["P1", "C1"]
    assert [(line.line_number, line.package_ref) for line in shipment.lines] == [(10, "C1"), (30, "C1")]


def test_blank_package_type_is_a_carton_and_blank_sscc_is_left_to_generate():
    shipment = parse_csv(
        asn_csv(CARTON_1 | {"package_type": "", "package_sscc": "", "parent_package_ref": ""}), kind=ASN
    )

    assert shipment.shipments[0].packages == (PackageInput("C1", "carton", "", None, Location(row=2)),)


def test_optional_columns_may_be_left_out():
    columns = ["asn_number", "ship_date", "po_number", "po_line", "quantity"]

    shipment = parse_csv(asn_csv(CARTON_1, columns=columns), kind=ASN).shipments[0]

    assert shipment == ShipmentInput(
        number="ASN-2001",
        ship_date=dt.date(2026, 3, 2),
        lines=(ShipmentLineInput("PO-1001", 10, Decimal(24), location=Location(row=2)),),
        location=Location(row=2),
    )


# --- acknowledgements ----------------------------------------------------------------


def test_acknowledgement_csv_with_accept_reject_change_and_split():
    document = parse_csv(fixture("acknowledgement.csv"), kind=ACK)

    assert document == ParsedDocument(
        format=DocumentFormat.CSV,
        kind=ACK,
        acknowledgements=(
            AcknowledgementInput(
                po_number="PO-1001",
                lines=(
                    ack(2, 10, "accept"),
                    ack(3, 20, "reject", reason_code="OUT_OF_STOCK", note="Discontinued by the manufacturer."),
                    ack(
                        4,
                        30,
                        "change",
                        quantity=Decimal(100),
                        unit_price=Decimal("9.75"),
                        date=dt.date(2026, 4, 1),
                        note="Price as agreed on the phone.",
                    ),
                    ack(5, 40, "change", quantity=Decimal(60), date=dt.date(2026, 4, 1)),
                    ack(6, 40, "change", quantity=Decimal(40), date=dt.date(2026, 4, 15), note="Rest two weeks later."),
                ),
                location=Location(row=2),
            ),
            AcknowledgementInput(po_number="PO-1002", lines=(ack(7, 10, "accept"),), location=Location(row=7)),
        ),
    )


def test_acknowledgement_xlsx_reads_actions_in_any_case():
    stream = xlsx(
        ["PO_Number", "PO_Line", "Action", "Quantity", "Promised_Date"],
        ["PO-1", 10, "Accept", None, None],
        ["PO-1", 20, "CHANGE", 5, excel_datetime(2026, 5, 1)],
    )

    document = parse_xlsx(stream, kind=ACK)

    assert document.acknowledgements[0].lines == (
        ack(2, 10, "accept"),
        ack(3, 20, "change", quantity=Decimal(5), date=dt.date(2026, 5, 1)),
    )


# --- problems, each where it is --------------------------------------------------------


def test_bad_dates_are_refused_where_they_are():
    rows = (PALLET, CARTON_1 | {"expiry_date": "2027-02-30"}, CARTON_2 | {"estimated_arrival": "04/03/2026"})

    with pytest.raises(DocumentError) as error:
        parse_csv(asn_csv(*rows), kind=ASN)

    assert where(error) == [(3, "expiry_date"), (4, "estimated_arrival")]
    assert "'2027-02-30' is not a date in the calendar" in str(error.value)
    assert "write YYYY-MM-DD" in str(error.value)


def test_a_negative_quantity_is_refused():
    with pytest.raises(DocumentError) as error:
        parse_csv(asn_csv(PALLET, CARTON_1 | {"quantity": "-5"}, CARTON_2), kind=ASN)

    assert where(error) == [(3, "quantity")]
    assert str(error.value) == "row 3, column quantity: Must be more than zero, not -5."


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("0", "Must be more than zero"),
        ("1,000", "is not a number"),
        ("1.0001", "more than 3 decimal places"),
        ("1e3", "is not a number"),
        ("NaN", "is not a number"),
        ("123456789012", "is too large"),
    ],
)
def test_quantities_are_plain_positive_decimals(quantity, message):
    with pytest.raises(DocumentError, match=message) as error:
        parse_csv(asn_csv(LOOSE | {"quantity": quantity}), kind=ASN)

    assert where(error) == [(2, "quantity")]


def test_a_missing_required_column_is_refused():
    columns = [name for name in ASN_NAMES if name != "quantity"]

    with pytest.raises(DocumentError) as error:
        parse_csv(asn_csv(CARTON_1, columns=columns), kind=ASN)

    assert where(error) == [(1, "quantity")]
    assert "Required column quantity is missing" in str(error.value)


def test_an_unknown_column_is_refused_naming_the_expected_ones():
    with pytest.raises(DocumentError) as error:
        parse_csv(asn_csv(CARTON_1, columns=[*ASN_NAMES, "Colour"]), kind=ASN)

    assert where(error) == [(1, "colour")]
    assert f"Unknown column 'colour'. The columns are: {', '.join(ASN_NAMES)}." in str(error.value)


def test_an_acknowledgement_uploaded_as_a_ship_notice_says_so():
    with pytest.raises(DocumentError, match="These are the columns of an acknowledgement"):
        parse_csv(fixture("acknowledgement.csv"), kind=ASN)


def test_duplicate_and_nameless_columns_are_refused():
    data = b"asn_number,ship_date,,po_number,po_line,quantity,PO_NUMBER\nA,2026-03-02,,P,1,1,P\n"

    with pytest.raises(DocumentError) as error:
        parse_csv(io.BytesIO(data), kind=ASN)

    assert where(error) == [(1, ""), (1, "po_number")]


def test_header_values_must_agree_across_the_rows_of_a_ship_notice():
    with pytest.raises(DocumentError) as error:
        parse_csv(asn_csv(PALLET, CARTON_1 | {"carrier_name": "DHL"}, CARTON_2 | {"ship_date": "2026-03-03"}), kind=ASN)

    assert where(error) == [(3, "carrier_name"), (4, "ship_date")]
    assert str(error.value.problems[0]) == (
        "row 3, column carrier_name: DHL differs from UPS in row 2: every row of ship notice ASN-2001 gives the same "
        "carrier_name."
    )


def test_a_package_parent_must_agree_wherever_the_package_appears():
    pallet_2 = PALLET | {"package_ref": "P2", "package_sscc": ""}
    again = CARTON_1 | {"po_line": "30", "parent_package_ref": "P2"}

    with pytest.raises(DocumentError) as error:
        parse_csv(asn_csv(PALLET, pallet_2, CARTON_1, again), kind=ASN)

    assert where(error) == [(5, "parent_package_ref")]
    assert "P2 differs from P1 in row 4: every row of package C1 gives the same parent_package_ref" in str(error.value)


def test_a_package_holding_nothing_is_refused():
    with pytest.raises(DocumentError, match="Package P2 holds no PO line and no other package") as error:
        parse_csv(asn_csv(PALLET, PALLET | {"package_ref": "P2", "package_sscc": ""}, CARTON_1, CARTON_2), kind=ASN)

    assert where(error) == [(3, "package_ref")]


def test_a_ship_notice_of_packages_only_is_refused():
    with pytest.raises(DocumentError, match="Ship notice ASN-2001 has no PO lines") as error:
        parse_csv(asn_csv(PALLET), kind=ASN)

    assert where(error) == [(2, "asn_number"), (2, "package_ref")]


def test_package_type_and_sscc_must_agree_too():
    again = CARTON_1 | {"po_line": "30", "package_type": "package", "package_sscc": ""}

    with pytest.raises(DocumentError) as error:
        parse_csv(asn_csv(PALLET, CARTON_1, again), kind=ASN)

    assert where(error) == [(4, "package_type"), (4, "package_sscc")]


def test_a_parent_must_be_declared_in_the_same_ship_notice():
    with pytest.raises(DocumentError) as error:
        parse_csv(asn_csv(CARTON_1, CARTON_2), kind=ASN)

    assert where(error) == [(2, "parent_package_ref"), (3, "parent_package_ref")]
    assert "No row of ship notice ASN-2001 declares package P1." in str(error.value)


def test_packages_cannot_end_up_inside_themselves():
    loop = PALLET | {"parent_package_ref": "C1"}

    with pytest.raises(DocumentError) as error:
        parse_csv(asn_csv(loop, CARTON_1, CARTON_2), kind=ASN)

    assert where(error) == [(2, "parent_package_ref"), (3, "parent_package_ref")]
    assert "Package P1 ends up inside itself." in str(error.value)
    assert "Package C1 ends up inside itself." in str(error.value)


def test_a_package_cannot_hold_itself():
    with pytest.raises(DocumentError, match="Package C2 cannot hold itself") as error:
        parse_csv(asn_csv(PALLET, CARTON_1, CARTON_2 | {"parent_package_ref": "C2"}), kind=ASN)

    assert where(error) == [(4, "parent_package_ref")]


def test_ssccs_are_checked_and_unique_in_the_file():
    rows = (
        PALLET | {"package_sscc": "006141410000000044"},
        CARTON_1,
        CARTON_2 | {"package_sscc": "(00) 006141410000000050"},
    )

    with pytest.raises(DocumentError) as error:
        parse_csv(asn_csv(*rows), kind=ASN)

    assert where(error) == [(2, "package_sscc"), (4, "package_sscc")]
    assert "SSCC check digit should be 3, not 4." in str(error.value)
    assert "SSCC 006141410000000050 is already package C1's, in row 3." in str(error.value)


def test_an_sscc_excel_turned_into_a_number_is_refused_with_the_reason():
    stream = xlsx(
        ["asn_number", "ship_date", "po_number", "po_line", "quantity", "package_ref", "package_sscc"],
        ["A1", "2026-03-02", "PO-1", 10, 1, "C1", 6141410000000050],
        ["A1", "2026-03-02", "PO-1", 20, 1, "C2", 3.41234567890123e17],
    )

    with pytest.raises(DocumentError, match="drops its leading zeros and keeps only 15 digits") as error:
        parse_xlsx(stream, kind=ASN)

    assert where(error) == [(2, "package_sscc"), (3, "package_sscc")]


def test_a_row_is_a_line_or_a_package_declaration():
    half_line = PALLET | {"po_number": "PO-1001"}
    nothing = dict(SHIPMENT)
    declaration_with_lot = PALLET | {"package_ref": "P2", "package_sscc": "", "lot_number": "L1"}

    with pytest.raises(DocumentError) as error:
        parse_csv(asn_csv(PALLET, CARTON_1, CARTON_2, half_line, nothing, declaration_with_lot), kind=ASN)

    assert where(error) == [(5, "po_line"), (5, "quantity"), (6, "po_number"), (7, "lot_number")]


def test_package_columns_need_a_package_ref():
    with pytest.raises(DocumentError) as error:
        parse_csv(asn_csv(CARTON_1 | {"package_ref": "", "package_sscc": ""}), kind=ASN)

    assert where(error) == [(2, "package_type"), (2, "parent_package_ref")]


def test_asn_number_scac_and_arrival_are_checked_per_row():
    row = CARTON_1 | {"asn_number": "ASN 1", "carrier_scac": "U1", "estimated_arrival": "2026-03-01"}

    with pytest.raises(DocumentError) as error:
        parse_csv(asn_csv(row), kind=ASN)

    assert where(error) == [(2, "asn_number"), (2, "carrier_scac"), (2, "estimated_arrival")]


def test_text_longer_than_its_field_is_refused():
    with pytest.raises(DocumentError, match="At most 40 characters, not 41") as error:
        parse_csv(asn_csv(LOOSE | {"lot_number": "L" * 41}), kind=ASN)

    assert where(error) == [(2, "lot_number")]


def test_an_excel_date_with_a_time_of_day_is_refused():
    stream = xlsx(
        ["asn_number", "ship_date", "po_number", "po_line", "quantity"],
        ["A1", excel_datetime(2026, 3, 2, 14, 30), "PO-1", 10, 1],
        ["A1", excel_datetime(2026, 3, 2, 14, 30), "PO-1", 20, True],
    )

    with pytest.raises(DocumentError) as error:
        parse_xlsx(stream, kind=ASN)

    assert where(error) == [(2, "ship_date"), (3, "ship_date"), (3, "quantity")]


def test_a_value_beyond_the_header_is_refused():
    data = table([LOOSE], ASN_NAMES)
    data += data.splitlines()[1] + b",extra\r\n"

    with pytest.raises(DocumentError, match="a value in column 20, which has no header") as error:
        parse_csv(io.BytesIO(data), kind=ASN)

    assert where(error) == [(3, "")]


def test_blank_rows_are_skipped_but_counted():
    data = table([LOOSE], ASN_NAMES).replace(b"\r\nASN-2001", b"\r\n,,,\r\n\r\nASN-2001")

    document = parse_csv(io.BytesIO(data), kind=ASN)

    assert document.shipments[0].lines[0].location == Location(row=4)


def test_acknowledgement_rules_per_row():
    rows = (
        {"po_number": "PO-1", "po_line": "10", "action": "accept", "quantity": "5"},
        {"po_number": "PO-1", "po_line": "20", "action": "reject", "promised_date": "2026-05-01"},
        {"po_number": "PO-1", "po_line": "30", "action": "change", "note": "cheaper soon"},
        {"po_number": "PO-1", "po_line": "0", "action": "decline", "unit_price": "-1"},
        {"po_line": "50", "action": "accept"},
    )

    with pytest.raises(DocumentError) as error:
        parse_csv(ack_csv(*rows), kind=ACK)

    assert where(error) == [
        (2, "quantity"),
        (3, "promised_date"),
        (3, "reason_code"),
        (4, "action"),
        (5, "po_line"),
        (5, "action"),
        (5, "unit_price"),
        (6, "po_number"),
    ]


def test_a_split_is_changes_each_with_quantity_and_date_at_one_price():
    rows = (
        {"po_number": "PO-1", "po_line": "10", "action": "change", "quantity": "6", "promised_date": "2026-05-01"},
        {"po_number": "PO-1", "po_line": "10", "action": "accept"},
        {"po_number": "PO-1", "po_line": "10", "action": "change", "unit_price": "2", "promised_date": "2026-05-09"},
    )

    with pytest.raises(DocumentError) as error:
        parse_csv(ack_csv(*rows), kind=ACK)

    assert where(error) == [(4, "unit_price"), (3, "action"), (3, "quantity"), (3, "promised_date"), (4, "quantity")]
    assert "2 differs from blank in row 2: every row of line 10 of PO PO-1 gives the same unit_price" in str(
        error.value
    )


# --- files that are not what they claim ------------------------------------------------


@pytest.mark.parametrize("kind", [ASN, ACK])
@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n\r\n", b" , ,\n"])
def test_an_empty_file_is_refused(kind, data):
    with pytest.raises(DocumentError, match="The file is empty"):
        parse_csv(io.BytesIO(data), kind=kind)


def test_a_header_only_file_is_refused():
    with pytest.raises(DocumentError, match="header row but no rows below it") as error:
        parse_csv(io.BytesIO(",".join(ACK_NAMES).encode() + b"\n\n"), kind=ACK)

    assert where(error) == [(1, "")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not UTF-8 text"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00", "binary data, not CSV text"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)), "not UTF-8 text"),
        (b"po_number,po_line,action\nPO-1,10,accept\n\xff\xfe\n", "not UTF-8 text"),
    ],
)
def test_binary_garbage_uploaded_as_csv_is_refused(data, message):
    with pytest.raises(DocumentError, match=message):
        parse_csv(io.BytesIO(data), kind=ACK)


def test_an_excel_workbook_uploaded_as_csv_is_refused():
    with pytest.raises(DocumentError, match="Upload an Excel workbook as Excel"):
        parse_csv(io.BytesIO(template_xlsx(ASN)), kind=ASN)


@pytest.mark.parametrize("data", [b"", b"asn_number,ship_date\n", b"PK\x03\x04garbage", bytes(range(256))])
def test_a_csv_or_garbage_uploaded_as_xlsx_is_refused(data):
    with pytest.raises(DocumentError, match=r"not an Excel \.xlsx workbook"):
        parse_xlsx(io.BytesIO(data), kind=ASN)


def test_a_zip_that_is_no_workbook_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hello")

    with pytest.raises(DocumentError, match=r"not an Excel \.xlsx workbook we can read"):
        parse_xlsx(io.BytesIO(out.getvalue()), kind=ASN)


def test_a_workbook_unpacking_too_large_is_refused_before_reading(monkeypatch):
    monkeypatch.setattr(spreadsheet.reading, "MAX_XLSX_UNPACKED_BYTES", 1_000)

    with pytest.raises(DocumentError, match="too large"):
        parse_xlsx(io.BytesIO(template_xlsx(ASN)), kind=ASN)


def test_rows_beyond_the_limit_are_refused(monkeypatch):
    monkeypatch.setattr(spreadsheet.reading, "MAX_ROWS", 3)
    rows = [LOOSE | {"po_line": str(n)} for n in range(1, 6)]

    with pytest.raises(DocumentError, match="more than 3 rows: split it") as error:
        parse_csv(asn_csv(*rows), kind=ASN)

    assert where(error) == [(5, "")]


def test_problems_beyond_the_listed_ones_are_counted(monkeypatch):
    monkeypatch.setattr(spreadsheet.rows, "MAX_LISTED_PROBLEMS", 2)
    rows = [LOOSE | {"po_line": str(n), "quantity": "-1"} for n in range(1, 6)]

    with pytest.raises(DocumentError) as error:
        parse_csv(asn_csv(*rows), kind=ASN)

    assert where(error) == [(2, "quantity"), (3, "quantity"), (None, "")]
    assert str(error.value.problems[-1]) == "... and 3 more problems."


def test_parsing_leaves_the_callers_stream_open():
    stream = fixture("acknowledgement.csv")

    parse_csv(stream, kind=ACK)

    assert not stream.closed


# --- templates -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", [ASN, ACK])
def test_templates_parse_as_they_are(kind):
    from_csv = parse_csv(io.BytesIO(template_csv(kind)), kind=kind)
    from_xlsx = parse_xlsx(io.BytesIO(template_xlsx(kind)), kind=kind)

    assert from_csv.shipments or from_csv.acknowledgements
    assert (from_xlsx.shipments, from_xlsx.acknowledgements) == (from_csv.shipments, from_csv.acknowledgements)


def test_the_asn_template_shows_a_pallet_holding_two_cartons():
    shipment = parse_csv(io.BytesIO(template_csv(ASN)), kind=ASN).shipments[0]

    assert [(p.ref, p.kind, p.parent_ref) for p in shipment.packages] == [
        ("P1", "pallet", None),
        ("C1", "carton", "P1"),
        ("C2", "carton", "P1"),
    ]
    assert [line.package_ref for line in shipment.lines] == ["C1", "C2"]


def test_the_csv_template_has_a_bom_for_excel_and_the_layout_header():
    data = template_csv(ACK)

    assert data.startswith(
        b"\xef\xbb\xbfpo_number,po_line,action,quantity,unit_price,promised_date,reason_code,note\r\n"
    )


@pytest.mark.parametrize(("kind", "columns"), [(ASN, ASN_COLUMNS), (ACK, ACKNOWLEDGEMENT_COLUMNS)])
def test_the_xlsx_template_has_a_bold_header_widths_and_instructions(kind, columns):
    workbook = openpyxl.load_workbook(io.BytesIO(template_xlsx(kind)))
    sheet, instructions = workbook.worksheets

    assert [cell.value for cell in sheet[1]] == [c.name for c in columns]
    assert all(cell.font.bold for cell in sheet[1])
    assert all(sheet.column_dimensions[cell.column_letter].width >= len(cell.value) for cell in sheet[1])
    assert instructions.title == "Instructions"
    described = {
        row[0]: row for row in instructions.iter_rows(min_row=2, values_only=True) if row[0] in ASN_NAMES + ACK_NAMES
    }
    assert list(described) == [c.name for c in columns]
    assert all(
        row[1] == ("yes" if c.required else "no") and row[3] for c, row in zip(columns, described.values(), strict=True)
    )


def test_the_module_documents_every_column():
    for column in (*ASN_COLUMNS, *ACKNOWLEDGEMENT_COLUMNS):
        assert f"\n{column.name} " in spreadsheet.__doc__


# --- whatever arrives, the answer is a document or a DocumentError -------------------------


def parses_or_refuses(parse, data: bytes, kind: DocumentKind) -> None:
    try:
        document = parse(io.BytesIO(data), kind=kind)
    except DocumentError as error:
        refused = error
    else:
        assert document.kind == kind
        return
    assert refused.problems


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2_000), kind=st.sampled_from([ASN, ACK]))
def test_any_bytes_parse_or_raise_document_error(data, kind):
    parses_or_refuses(parse_csv, data, kind)
    parses_or_refuses(parse_xlsx, data, kind)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=2_000), kind=st.sampled_from([ASN, ACK]))
def test_any_text_parses_or_raises_document_error(text, kind):
    parses_or_refuses(parse_csv, text.encode(), kind)


# Cells near what the layouts accept, so the property reaches the value checks, not only the header's.
CELLS = st.one_of(
    st.sampled_from(["", "P1", "C1", "pallet", "carton", "accept", "reject", "change", "OUT_OF_STOCK", "PO-1", "A1"]),
    st.sampled_from(["006141410000000043", "2026-03-02", "2026-02-30", "-1", "0", "1,5", "1e9", "NaN", "10", "12.5"]),
    st.text(alphabet='0123456789.,-+; "\n\r\tPCe', max_size=12),
    st.text(max_size=20),
)
ACK_ROWS = [
    {"po_number": "PO-1", "po_line": "10", "action": "accept"},
    {"po_number": "PO-1", "po_line": "20", "action": "reject", "reason_code": "OUT_OF_STOCK"},
    {"po_number": "PO-1", "po_line": "30", "action": "change", "quantity": "6", "promised_date": "2026-05-01"},
]


@st.composite
def layout_rows(draw, kind: DocumentKind) -> list[list[str]]:
    """Rows of a valid file with some cells changed, rows dropped or repeated: near misses of every kind."""
    valid = [PALLET, CARTON_1, CARTON_2, LOOSE] if kind == ASN else ACK_ROWS
    names = ASN_NAMES if kind == ASN else ACK_NAMES
    rows = draw(st.lists(st.sampled_from(valid), max_size=6))
    return [[draw(CELLS) if draw(st.integers(0, 9)) == 0 else row.get(name, "") for name in names] for row in rows]


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from([ASN, ACK]), data=st.data(), delimiter=st.sampled_from([",", ";"]))
def test_near_misses_of_a_valid_file_parse_or_raise_document_error(kind, data, delimiter):
    rows = data.draw(st.one_of(layout_rows(kind), st.lists(st.lists(CELLS, max_size=21), max_size=8)))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(ASN_NAMES if kind == ASN else ACK_NAMES)
    writer.writerows(rows)

    parses_or_refuses(parse_csv, out.getvalue().encode(), kind)


XLSX_CELLS = st.one_of(
    CELLS,
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.datetimes(min_value=excel_datetime(1900, 3, 1), max_value=excel_datetime(2200, 1, 1)),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2200, 1, 1)),
)


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from([ASN, ACK]), rows=st.lists(st.lists(XLSX_CELLS, max_size=21), max_size=6))
def test_any_typed_cells_in_a_workbook_parse_or_raise_document_error(kind, rows):
    names = ASN_NAMES if kind == ASN else ACK_NAMES
    cleaned = [[cell.replace("\x00", "") if isinstance(cell, str) else cell for cell in row] for row in rows]
    try:
        stream = xlsx(names, *cleaned)
    except openpyxl.utils.exceptions.IllegalCharacterError:
        return

    parses_or_refuses(parse_xlsx, stream.getvalue(), kind)
