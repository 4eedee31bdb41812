"""The checks every uploaded file passes (config/uploads.py): content over name, disguises named, safe names."""

import io
import zipfile

import pytest
from django.core.exceptions import ValidationError

from config import uploads
from purchasing.documents.spreadsheet import template_xlsx
from purchasing.models import DocumentKind

CSV = b"asn_number,ship_date,po_number,po_line,quantity\r\nASN-1,2026-03-02,PO-1,10,40\r\n"
X12 = b"ISA*00*          *00*          *ZZ*ACME           *ZZ*SUPPLYLINE     *260315*1402*U*00401*000000001*0*P*>~"
EDIFACT = b"UNA:+.? 'UNB+UNOC:3+ACME:ZZZ+SUPPLYLINE:ZZZ+260315:1402+1'"
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
LIMIT = 256 * 1024 * 1024


def _format(content: bytes, name: str = "", media_type: str = "") -> str:
    return uploads.document_format(content, filename=name, media_type=media_type, max_unpacked=LIMIT)


def _refusal(content: bytes, name: str = "", media_type: str = "", max_unpacked: int = LIMIT) -> str:
    with pytest.raises(ValidationError) as caught:
        uploads.document_format(content, filename=name, media_type=media_type, max_unpacked=max_unpacked)
    [message] = caught.value.message_dict["file"]
    return message


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


XLSX = template_xlsx(DocumentKind.SHIP_NOTICE)


@pytest.mark.parametrize(
    ("content", "name", "media_type", "expected"),
    [
        (CSV, "asn.csv", "", "csv"),
        (b"\xef\xbb\xbf" + CSV, "asn.CSV", "", "csv"),
        ("asn_number,carrier_name\r\nASN-1,Müller Logistik\r\n".encode(), "asn.txt", "", "csv"),
        (CSV, "upload", "text/csv", "csv"),
        (X12, "asn.x12", "", "x12"),
        (b"\r\n" + X12, "asn.edi", "application/edi-x12", "x12"),
        (EDIFACT, "desadv.edi", "", "edifact"),
        (EDIFACT, "DESADV.20260315.dat", "application/edifact", "edifact"),
        (XLSX, "asn.xlsx", "", "xlsx"),
        (XLSX, "", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    ],
)
def test_documents_are_known_by_their_content(content, name, media_type, expected):
    assert _format(content, name, media_type) == expected


@pytest.mark.parametrize(
    ("content", "name", "media_type", "message"),
    [
        (b"", "asn.csv", "", "The file is empty."),
        (HTML, "asn.csv", "", "The file is an HTML or XML document, not a CSV document."),
        (b"  <html><p>hi</p>", "asn.edi", "", "The file is an HTML or XML document, not an X12 or EDIFACT document."),
        (b"<?xml version='1.0'?><ASN/>", "", "", "The file is an HTML or XML document, not a CSV, Excel .xlsx, X12"),
        (b"%PDF-1.7\n", "asn.csv", "", "The file is a PDF document, not a CSV document."),
        (b"\x89PNG\r\n\x1a\n" + bytes(16), "asn.x12", "", "The file is a PNG image, not an X12 document."),
        (b"GIF89a" + bytes(16), "asn.txt", "", "The file is a GIF image"),
        (b"MZ\x90\x00\x03" + bytes(120), "asn.csv", "", "The file is a Windows program, not a CSV document."),
        (b"\x7fELF\x02\x01" + bytes(32), "asn.edi", "", "The file is a program (ELF)"),
        (XLSX, "asn.csv", "", "The file is a ZIP archive or an Excel workbook, not a CSV document."),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "asn.csv", "", "an old Office file (.xls, .doc)"),
        ("asn_number\r\n".encode("utf-16"), "asn.csv", "", "The file is UTF-16 text"),
        (CSV + b"ASN-2,\x00\x00,PO-1,20,5\r\n", "asn.csv", "", "binary data (byte b'\\x00' at offset 84)"),
        (CSV.replace(b"40", b"4\x1b0"), "asn.csv", "", "binary data (byte b'\\x1b'"),
        (X12 + b"ST*856*0001~\x00\x00", "asn.x12", "", "not X12 text"),
        (CSV + "Müller".encode("latin-1") + b"\r\n", "asn.csv", "", "not UTF-8 text (byte b'\\xfc' at offset 79)"),
        (CSV, "asn.x12", "", "An X12 file starts with ISA; this one starts with 'asn_number,s'."),
        (CSV, "upload", "application/edi-x12", "An X12 file starts with ISA"),
        (X12, "upload", "application/edifact", "An EDIFACT file starts with UNA or UNB; this one starts with 'ISA*00*"),
        (CSV, "asn.edi", "", "An EDI file starts with ISA (X12) or UNA/UNB (EDIFACT)"),
        (X12, "asn.csv", "", "The file holds X12 content, not a CSV document"),
        (CSV, "asn.xlsx", "", "The file is not an Excel .xlsx workbook: its content is text."),
        (CSV, "asn.x12", "text/csv", "The file's name (.x12) and its content type (text/csv) say different formats."),
        (CSV, "asn.html", "", "A .html file is not a document we read"),
        (CSV, "asn.csv.exe", "", "A .exe file is not a document we read"),
        (XLSX, "asn.xlsm", "", "A .xlsm file is not a document we read"),
    ],
)
def test_files_that_are_no_document_or_not_what_they_say_are_refused_naming_why(content, name, media_type, message):
    assert message in _refusal(content, name, media_type)


def test_a_workbook_is_checked_as_a_zip_with_a_workbook_inside():
    assert _refusal(b"PK\x03\x04garbage", "asn.xlsx").startswith("The file is not an Excel .xlsx workbook.")
    plain_zip = _zip({"hello.txt": b"hello"})
    assert _refusal(plain_zip, "asn.xlsx") == "The file is a ZIP archive, not an Excel .xlsx workbook we can read."
    parts = {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}
    with_macros = _zip({**parts, "xl/vbaProject.bin": b""})
    assert "holds macros" in _refusal(with_macros, "asn.xlsx")


def test_a_zip_bomb_is_refused_by_its_unpacked_size_before_it_is_opened():
    bomb = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>", "xl/sheet.xml": bytes(200_000)})
    assert len(bomb) < 2_000  # 200 kB of zeros packs into almost nothing

    message = _refusal(bomb, "asn.xlsx", max_unpacked=100_000)

    assert message == "The workbook is too large when unpacked: split it into several files."
    assert uploads.xlsx_problem(io.BytesIO(bomb), max_unpacked=300_000) is None


def test_a_zip_of_very_many_entries_is_refused():
    entries = {f"xl/{n}.xml": b"" for n in range(uploads.XLSX_MAX_ENTRIES)}
    crowded = _zip({"[Content_Types].xml": b"", "xl/workbook.xml": b"", **entries})
    assert "too large when unpacked" in _refusal(crowded, "asn.xlsx")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\asn.csv", "asn.csv"),
        ("asn\x00.csv", "asn_.csv"),
        ('evil "name"<script>.csv', "evil _name_script_.csv"),
        ("a" * 300 + ".csv", "a" * 146 + ".csv"),
        ("../", "fallback"),
        ("...", "fallback"),
        ("", "fallback"),
    ],
)
def test_a_file_name_becomes_plain_display_text(name, expected):
    assert uploads.safe_filename(name, "fallback") == expected


def test_a_signature_check_names_what_the_file_really_is():
    uploads.check_signature(b"%PDF-1.4", magic=b"%PDF-", label="PDF")
    with pytest.raises(ValidationError, match="it is an HTML or XML document"):
        uploads.check_signature(HTML, magic=b"%PDF-", label="PDF")
    with pytest.raises(ValidationError, match="its content does not match its name"):
        uploads.check_signature(b"hello", magic=b"%PDF-", label="PDF")


def test_the_size_limit_is_a_refusal_of_its_own():
    uploads.check_size(100, 100)
    with pytest.raises(uploads.FileTooLarge) as caught:
        uploads.check_size(101, 100)
    assert caught.value.message_dict == {"file": ["The file is larger than the limit of 100\xa0bytes."]}
