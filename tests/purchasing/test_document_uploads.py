"""Every way a B2B document reaches us refuses the same files the same way, and a refusal writes nothing.

The ways: the documents page, the API (a multipart form or the raw body) and the drop folders. The checks
themselves are config/uploads.py's (tests/config/test_uploads.py); here, that each entry point runs them
before anything is stored, answers with the right status and says why.
"""

import io
import logging
import os
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from purchasing.documents import folders
from purchasing.documents.intake import document_receive
from purchasing.models import InboundDocument, OutboundDocument, ShipmentNotice
from suppliers.models import IdempotencyRecord
from tests.purchasing.documents.test_intake import fixture
from tests.purchasing.test_api import api_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("portal_defaults")]

CHANNELS = ["web", "api-form", "api-body", "folder"]
HTML = b"<!DOCTYPE html>\n<html><body><script>fetch('/api/v1/purchase-orders/')</script></body></html>\n"
WINDOWS_PROGRAM = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(112) + b"PE\x00\x00"
CSV_WITH_NUL = b"asn_number,ship_date,po_number,po_line,quantity\r\nASN-1,\x00\x00\x00,PO-200001,10,40\r\n"


@dataclass(frozen=True)
class Answer:
    status: int | None  # None for a drop folder, which answers no one
    message: str


@pytest.fixture
def roots(settings, tmp_path) -> tuple[Path, Path]:
    """The uploaded-files root and the drop folders' root, both watched for anything written."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SUPPLYLINE_EDI_ROOT = tmp_path / "edi"
    (tmp_path / "edi" / "ACME" / "inbound").mkdir(parents=True)
    return settings.MEDIA_ROOT, settings.SUPPLYLINE_EDI_ROOT


@pytest.fixture(params=CHANNELS)
def send(request, roots, supplier, alice_client, caplog) -> Callable[..., Answer]:
    """Send a file by one channel; returns the status and what the sender is told."""
    channel = request.param
    acme: Any = api_client(supplier)  # its stubs take a str body; Django's client sends bytes as they are
    _, edi_root = roots

    def _send(content: bytes, name: str) -> Answer:
        if channel == "web":
            response = alice_client.post(
                reverse("purchasing:document-list"),
                {"kind": "ship_notice", "file": SimpleUploadedFile(name, content)},
            )
            errors = response.context["form"].errors.get("file", []) if response.context else []
            return Answer(response.status_code, " ".join(errors))
        if channel == "api-form":
            response = acme.post(
                "/api/v1/documents/", {"file": SimpleUploadedFile(name, content), "kind": "ship_notice"}
            )
            return Answer(response.status_code, _problem_text(response))
        if channel == "api-body":
            response = acme.generic(
                "POST",
                f"/api/v1/documents/?kind=ship_notice&filename={quote(name)}",
                content,
                content_type=MEDIA_TYPES.get(Path(name).suffix, "text/csv"),
                HTTP_IDEMPOTENCY_KEY="upload-1",
            )
            return Answer(response.status_code, _problem_text(response))
        path = edi_root / "ACME" / "inbound" / name
        path.write_bytes(content)
        os.utime(path, (time.time() - 10, time.time() - 10))
        with caplog.at_level(logging.WARNING, logger="supplyline.documents"):
            folders.scan_inbound_folders()
        reasons = [getattr(r, "reason", "") for r in caplog.records if r.getMessage() == "inbound file refused"]
        return Answer(None, " ".join(reasons))

    _send.channel = channel  # type: ignore[attr-defined]
    return _send


def _problem_text(response) -> str:
    body = response.json()
    return " ".join([body.get("detail", "")] + [error["detail"] for error in body.get("errors", [])])


# What an API client sends a raw body of each kind as.
MEDIA_TYPES = {".x12": "application/edi-x12", ".edi": "application/edifact"}
REFUSED = {"web": 400, "api-form": 422, "api-body": 422, "folder": None}
TOO_LARGE = {"web": 413, "api-form": 413, "api-body": 413, "folder": None}


def _nothing_written(roots: tuple[Path, Path], channel: str) -> None:
    media_root, edi_root = roots
    assert not InboundDocument.objects.exists()
    assert not OutboundDocument.objects.exists()
    assert not ShipmentNotice.objects.exists()
    assert not IdempotencyRecord.objects.exists()
    assert not media_root.exists() or not any(media_root.rglob("*"))
    written = sorted(str(p.relative_to(edi_root)) for p in edi_root.rglob("*") if p.is_file())
    if channel == "folder":
        # The dropped file is set aside, untouched, and nothing else appears.
        [moved] = written
        assert moved.startswith("ACME/rejected/")
        assert "-refused-" in moved
    else:
        assert written == []


@pytest.mark.parametrize("name", ["asn.csv", "asn.txt", "asn.edi"])
def test_html_disguised_as_a_document_is_refused_and_nothing_is_written(send, roots, shippable_po, name):
    answer = send(HTML, name)

    assert answer.status == REFUSED[send.channel]
    assert "The file is an HTML or XML document, not a" in answer.message
    _nothing_written(roots, send.channel)


def test_the_page_names_a_disguised_file_before_asking_what_it_holds(roots, alice_client, shippable_po):
    response = alice_client.post(reverse("purchasing:document-list"), {"file": SimpleUploadedFile("asn.csv", HTML)})

    assert response.status_code == 400
    assert response.context["form"].errors == {"file": ["The file is an HTML or XML document, not a CSV document."]}
    assert not InboundDocument.objects.exists()


@pytest.mark.parametrize(
    ("content", "name", "why"),
    [
        (WINDOWS_PROGRAM, "asn.csv", "The file is a Windows program, not a CSV document."),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "asn.x12", "The file is a PDF document, not an X12 document."),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "asn.csv", "The file is a PNG image, not a CSV document."),
        (CSV_WITH_NUL, "asn.csv", "The file holds binary data (byte b'\\x00' at offset 55), not CSV text."),
    ],
)
def test_a_binary_file_is_refused_naming_what_it_is_and_nothing_is_written(
    send, roots, shippable_po, content, name, why
):
    answer = send(content, name)

    assert answer.status == REFUSED[send.channel]
    assert why in answer.message
    _nothing_written(roots, send.channel)


def test_a_file_whose_content_is_not_its_declared_format_is_refused(send, roots, shippable_po):
    answer = send(fixture("ship_notice.csv"), "asn.x12")

    assert answer.status == REFUSED[send.channel]
    assert "An X12 file starts with ISA; this one starts with" in answer.message
    _nothing_written(roots, send.channel)


def test_an_oversized_file_gets_413_and_nothing_is_written(send, roots, shippable_po, settings):
    settings.SUPPLYLINE_DOCUMENT_MAX_BYTES = 1_000
    content = fixture("ship_notice.csv") + b"\r\n" * 20_000

    answer = send(content, "asn.csv")

    assert answer.status == TOO_LARGE[send.channel]
    assert "The file is larger than the limit of 1000" in answer.message
    _nothing_written(roots, send.channel)


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("../../../../etc/asn.x12", "asn.x12"),
        ("..\\..\\Windows\\System32\\asn.x12", "asn.x12"),
        ("a" * 240 + ".x12", "a" * 146 + ".x12"),
    ],
)
def test_a_hostile_file_name_never_reaches_the_file_system(send, roots, shippable_po, name, stored):
    if send.channel == "folder" and name.startswith("."):
        pytest.skip("a folder's dot files are never taken, and a file name cannot hold a /")

    send(fixture("ship_notice.x12"), name)

    document = InboundDocument.objects.get()
    assert document.status == InboundDocument.Status.ACCEPTED, document.errors
    assert document.filename.endswith(stored)
    media_root, edi_root = roots
    assert not media_root.exists() or not any(media_root.rglob("*"))
    files = [p for p in edi_root.rglob("*") if p.is_file()]
    if send.channel == "folder":
        [moved] = files  # into processed/, under a short plain name
        assert moved.parent == edi_root / "ACME" / "processed"
        assert moved.name.endswith(f"-{document.pk}-{stored}")
    else:
        assert files == []  # the document lives in the database, not in a file named by the sender


def test_a_file_name_with_a_nul_byte_is_stored_without_it(roots, supplier, shippable_po):
    document = document_receive(
        supplier=supplier, content=fixture("ship_notice.x12"), filename="asn\x00.x12", source="api", by=None
    )

    assert document.filename == "asn_.x12"
    assert document.status == InboundDocument.Status.ACCEPTED


def test_an_api_file_name_with_a_nul_byte_is_a_validation_problem(roots, supplier, shippable_po):
    response = api_client(supplier).generic(
        "POST", "/api/v1/documents/?filename=asn%00.x12", fixture("ship_notice.x12"), content_type="application/edi-x12"
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "filename"
    assert not InboundDocument.objects.exists()


def test_a_raw_body_over_the_limit_is_a_413_problem(roots, supplier, settings):
    settings.SUPPLYLINE_DOCUMENT_MAX_BYTES = 1_000

    response = api_client(supplier).generic(
        "POST", "/api/v1/documents/", fixture("ship_notice.x12") + b"\n" * 1_000, content_type="application/edi-x12"
    )

    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "too_large"
    assert not InboundDocument.objects.exists()


def test_an_excel_zip_bomb_is_refused_before_it_is_opened(roots, supplier, alice_client, shippable_po):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            for _ in range(260):
                sheet.write(bytes(1024 * 1024))  # 260 MB of zeros: about 250 kB packed
    response = alice_client.post(
        reverse("purchasing:document-list"),
        {"kind": "ship_notice", "file": SimpleUploadedFile("asn.xlsx", out.getvalue())},
    )

    assert response.status_code == 400
    assert response.context["form"].errors["file"] == [
        "The workbook is too large when unpacked: split it into several files."
    ]
    assert not InboundDocument.objects.exists()
