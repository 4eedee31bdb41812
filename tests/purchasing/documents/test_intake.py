"""Documents end to end: every format gives the same shipment and acknowledgement as the web form,
bad and duplicate files change nothing, EDI gets its 997/CONTRL, drop folders and outbound POs work."""

import datetime as dt
import io
import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from config.celery import app as celery_app
from config.uploads import FileTooLarge
from planning_sync.models import OutboxEvent
from purchasing import services
from purchasing.documents import edifact, folders, replies, x12
from purchasing.documents.intake import detect_format, document_receive
from purchasing.documents.shapes import PackageInput, ShipmentInput, ShipmentLineInput
from purchasing.models import (
    AcknowledgementLine,
    DocumentFormat,
    InboundDocument,
    LineStatus,
    OutboundDocument,
    PurchaseOrderLine,
    ReasonCode,
    ShipmentNotice,
)
from purchasing.rules import Delivery
from purchasing.services import LineDecision, NewLine
from tests.factories import (
    ItemFactory,
    PurchaseOrderLineFactory,
    SiteFactory,
    SupplierMembershipFactory,
    UserFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("portal_defaults")]

CHANNELS = Path(__file__).parent / "fixtures" / "channels"
PALLET, CARTON_1, CARTON_2 = "006141410009000013", "006141410009000020", "006141410009000037"
Action = AcknowledgementLine.Action


def _dates() -> dict[str, Any]:
    today = timezone.localdate()
    arrive = today + dt.timedelta(days=2)
    first, second = today + dt.timedelta(days=21), today + dt.timedelta(days=23)
    return {
        "yymmdd": today.strftime("%y%m%d"),
        "yyyymmdd": today.strftime("%Y%m%d"),
        "ship": today.strftime("%Y%m%d"),
        "arrive": arrive.strftime("%Y%m%d"),
        "ship_iso": today.isoformat(),
        "arrive_iso": arrive.isoformat(),
        "first": first.strftime("%Y%m%d"),
        "second": second.strftime("%Y%m%d"),
        "first_iso": first.isoformat(),
        "second_iso": second.isoformat(),
    }


def fixture(name: str, *, control: int = 101) -> bytes:
    return (CHANNELS / name).read_text().format(control=control, **_dates()).encode()


def _xlsx_of(csv_text: bytes) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in csv_text.decode().splitlines():
        sheet.append(row.split(","))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _receive(supplier, content: bytes, *, kind: str = "", name: str = "file", source="upload", by=None):
    return document_receive(supplier=supplier, content=content, filename=name, source=source, by=by, kind=kind)


# --- one shipment, every channel ---------------------------------------------------------------


def _web_shipment() -> ShipmentInput:
    today = timezone.localdate()
    return ShipmentInput(
        number="ASN-EQ-1",
        ship_date=today,
        estimated_arrival=today + dt.timedelta(days=2),
        carrier_scac="UPSN",
        carrier_name="UPS",
        tracking_number="1Z999",
        bill_of_lading="BOL-1",
        site_code="WH-EAST",
        packages=(
            PackageInput("P1", "pallet", PALLET),
            PackageInput("C1", "carton", CARTON_1, parent_ref="P1"),
            PackageInput("C2", "carton", CARTON_2, parent_ref="P1"),
        ),
        lines=(
            ShipmentLineInput("PO-200001", 10, Decimal(60), package_ref="C1", item_sku="SKU-BOLT"),
            ShipmentLineInput("PO-200001", 20, Decimal(60), package_ref="C2", item_sku="SKU-NUT"),
        ),
    )


def _shipment_summary(notice: ShipmentNotice) -> dict[str, Any]:
    """What a shipment notice says, independent of the format it came in."""
    return {
        "header": (
            notice.number,
            notice.site.code,
            notice.status,
            notice.ship_date,
            notice.estimated_arrival,
            notice.carrier_scac,
            notice.carrier_name,
            notice.tracking_number,
            notice.bill_of_lading,
        ),
        "packages": sorted((p.sscc, p.kind, p.parent.sscc if p.parent else None) for p in notice.packages.all()),
        "lines": sorted(
            (
                line.po_line.po.number,
                line.po_line.line_number,
                line.quantity,
                getattr(line.package, "sscc", None),
                line.lot_number,
            )
            for line in notice.lines.all()
        ),
        "shipped": list(
            PurchaseOrderLine.objects.filter(po__number="PO-200001")
            .order_by("line_number")
            .values_list("shipped_quantity", "status")
        ),
        "event": OutboxEvent.objects.get(type="supplyline.asn.submitted.v1").data,
    }


def _through(channel: str, supplier) -> ShipmentNotice:
    if channel == "web":
        return services.shipment_notice_submit(supplier=supplier, by=None, shipment=_web_shipment(), channel="web")
    content = {
        "csv": lambda: fixture("ship_notice.csv"),
        "xlsx": lambda: _xlsx_of(fixture("ship_notice.csv")),
        "x12": lambda: fixture("ship_notice.x12"),
        "edifact": lambda: fixture("ship_notice.edi"),
    }[channel]()
    document = _receive(supplier, content, kind="ship_notice")
    assert document.status == InboundDocument.Status.ACCEPTED, document.errors
    assert document.outcome["shipments"] == ["ASN-EQ-1"]
    return ShipmentNotice.objects.get(document=document)


def test_the_same_shipment_as_web_csv_excel_856_and_desadv_gives_the_same_notice(supplier, shippable_po):
    summaries = {}
    for channel in ("web", "csv", "xlsx", "x12", "edifact"):
        with transaction.atomic():
            summaries[channel] = _shipment_summary(_through(channel, supplier))
            transaction.set_rollback(True)  # the next channel sends the same notice afresh
    web = summaries.pop("web")
    assert web["packages"] == sorted(
        [(PALLET, "pallet", None), (CARTON_1, "carton", PALLET), (CARTON_2, "carton", PALLET)]
    )
    for channel, summary in summaries.items():
        assert summary == web, channel


# --- one acknowledgement, every channel --------------------------------------------------------


@pytest.fixture
def answerable_po(po):
    """The `po` fixture (lines 10 and 20) with known SKUs and a line 30, all awaiting an answer."""
    ReasonCode.objects.get_or_create(code="OUT_OF_STOCK", defaults={"label": "Out of stock"})
    for line in po.lines.all():
        line.item = ItemFactory.create(sku=f"SKU-ACK-{line.line_number}")
        line.save(update_fields=["item"])
    PurchaseOrderLineFactory.create(po=po, line_number=30, ordered_quantity=10, item=ItemFactory(sku="SKU-ACK-30"))
    return po


def _web_decisions() -> list[LineDecision]:
    d = _dates()
    first, second = dt.date.fromisoformat(d["first_iso"]), dt.date.fromisoformat(d["second_iso"])
    return [
        LineDecision(10, Action.ACCEPT),
        LineDecision(
            20,
            Action.CHANGE,
            quantity=Decimal(60),
            deliveries=(Delivery(Decimal(30), first), Delivery(Decimal(30), second)),
        ),
        LineDecision(30, Action.REJECT, reason_code="OUT_OF_STOCK"),
    ]


def _answer_summary(po) -> dict[str, Any]:
    answers = AcknowledgementLine.objects.filter(line__po=po).order_by("line__line_number")
    po.refresh_from_db()
    return {
        "answers": [
            (a.line.line_number, a.action, a.outcome, a.reason_code.code if a.reason_code else None, a.proposed)
            for a in answers
        ],
        "po": po.status,
        "lines": list(po.lines.order_by("line_number").values_list("line_number", "status", "ordered_quantity")),
        "schedules": list(
            po.lines.order_by("line_number", "schedule_lines__schedule_number").values_list(
                "line_number", "schedule_lines__quantity", "schedule_lines__promised_date"
            )
        ),
    }


def test_an_855_an_ordrsp_and_a_csv_answer_like_the_web_form(supplier, answerable_po):
    summaries = {}
    for channel in ("web", "csv", "x12", "edifact"):
        with transaction.atomic():
            if channel == "web":
                services.acknowledgement_submit(
                    po=answerable_po, by=None, decisions=_web_decisions(), channel="web", expected_version=None
                )
            else:
                name = {"csv": "acknowledgement.csv", "x12": "acknowledgement.x12", "edifact": "acknowledgement.edi"}
                document = _receive(supplier, fixture(name[channel]), kind="acknowledgement")
                assert document.status == InboundDocument.Status.ACCEPTED, document.errors
                assert document.outcome["acknowledgements"][0]["po_number"] == "PO-100001"
            summaries[channel] = _answer_summary(answerable_po)
            transaction.set_rollback(True)
    web = summaries.pop("web")
    assert [a[:4] for a in web["answers"]] == [
        (10, "accept", "applied", None),
        (20, "change", "applied", None),
        (30, "reject", "pending", "OUT_OF_STOCK"),
    ]
    for channel, summary in summaries.items():
        assert summary == web, channel


# --- refusals change nothing -------------------------------------------------------------------


def test_an_over_shipment_in_an_856_is_refused_naming_the_segment_and_nothing_is_written(supplier, shippable_po):
    content = fixture("ship_notice.x12").replace(b"SN1**60*EA~\nCTT", b"SN1**64*EA~\nCTT")
    document = _receive(supplier, content)
    assert document.status == InboundDocument.Status.REJECTED
    [error] = document.errors
    assert (error["segment"], error["position"]) == ("LIN", 24)  # the line of PO line 20
    assert "your tolerance allows at most 63" in error["message"]
    assert not ShipmentNotice.objects.exists()
    assert not PurchaseOrderLine.objects.filter(shipped_quantity__gt=0).exists()
    assert not OutboxEvent.objects.exists()
    reply = OutboundDocument.objects.get(in_reply_to=document)
    assert b"AK5*R" in reply.content
    assert b"AK9*R" in reply.content


def test_a_bad_sscc_check_digit_in_a_desadv_is_refused(supplier, shippable_po):
    content = fixture("ship_notice.edi").replace(CARTON_2.encode(), CARTON_2[:-1].encode() + b"9")
    document = _receive(supplier, content)
    assert document.status == InboundDocument.Status.REJECTED
    assert any("check digit" in e["message"] and e.get("segment") == "GIN" for e in document.errors), document.errors
    assert not ShipmentNotice.objects.exists()
    reply = OutboundDocument.objects.get(in_reply_to=document)
    assert reply.kind == "functional_ack"
    assert b"CONTRL" in reply.content


def test_a_malformed_interchange_is_rejected_with_its_reason_and_answered(supplier, shippable_po):
    content = fixture("ship_notice.x12").replace(b"SE*25*0001", b"SE*24*0001")
    document = _receive(supplier, content)
    assert document.status == InboundDocument.Status.REJECTED
    assert any(e.get("segment") == "SE" for e in document.errors), document.errors
    assert document.control_number == "000000101"
    assert b"AK5*R" in bytes(OutboundDocument.objects.get(in_reply_to=document).content)


def test_a_csv_with_a_bad_row_is_refused_whole_with_row_and_column(supplier, shippable_po):
    content = fixture("ship_notice.csv").replace(b"SKU-NUT,60", b"SKU-NUT,-6")
    document = _receive(supplier, content, kind="ship_notice")
    assert document.status == InboundDocument.Status.REJECTED
    assert {(e["row"], e["column"]) for e in document.errors} == {(4, "quantity")}
    assert not ShipmentNotice.objects.exists()
    assert not OutboundDocument.objects.exists()  # CSV gets no functional acknowledgement


def test_re_sending_the_same_interchange_changes_nothing(supplier, shippable_po):
    first = _receive(supplier, fixture("ship_notice.x12"))
    again = _receive(supplier, fixture("ship_notice.x12"))
    assert first.status == InboundDocument.Status.ACCEPTED
    assert again.status == InboundDocument.Status.DUPLICATE
    assert again.duplicate_of == first
    assert "already applied" in again.errors[0]["message"]
    assert ShipmentNotice.objects.count() == 1
    assert OutboxEvent.objects.filter(type="supplyline.asn.submitted.v1").count() == 1
    # A new interchange number with the same notice is a new document, refused for its ASN number.
    third = _receive(supplier, fixture("ship_notice.x12", control=102))
    assert third.status == InboundDocument.Status.REJECTED
    assert "already sent shipment notice ASN-EQ-1" in third.errors[0]["message"]


def test_an_interchange_from_someone_else_is_refused(supplier, shippable_po):
    supplier.edi_id = "ACME-REAL"
    supplier.save(update_fields=["edi_id"])
    document = _receive(supplier, fixture("ship_notice.x12"))
    assert document.status == InboundDocument.Status.REJECTED
    assert "your EDI id is 'ACME-REAL'" in document.errors[0]["message"]
    assert not ShipmentNotice.objects.exists()


@pytest.mark.parametrize("content", [b"", b"   \n"])
def test_empty_files_are_refused_and_not_stored(supplier, content):
    with pytest.raises(ValidationError) as caught:
        _receive(supplier, content, kind="ship_notice")
    assert caught.value.message_dict == {"file": ["The file is empty."]}
    assert not InboundDocument.objects.exists()


def test_a_file_over_the_size_limit_is_refused_before_reading(supplier, settings):
    settings.SUPPLYLINE_DOCUMENT_MAX_BYTES = 100
    with pytest.raises(FileTooLarge, match="larger than the limit of 100"):
        _receive(supplier, b"x" * 101, kind="ship_notice")
    assert not InboundDocument.objects.exists()


def test_csv_needs_to_say_what_it_holds(supplier):
    document = _receive(supplier, fixture("ship_notice.csv"))
    assert "Say what the file holds" in document.errors[0]["message"]


def test_the_format_is_read_from_the_content():
    assert detect_format(b"\xef\xbb\xbf\r\nISA*00") == DocumentFormat.X12
    assert detect_format(b"UNA:+.? 'UNB") == DocumentFormat.EDIFACT
    assert detect_format(b"UNB+UNOC:3") == DocumentFormat.EDIFACT
    assert detect_format(b"PK\x03\x04rest") == DocumentFormat.XLSX
    assert detect_format(b"asn_number,ship_date") == DocumentFormat.CSV


# --- functional acknowledgements -------------------------------------------------------------------


def test_every_x12_interchange_gets_a_997_that_reads_back(supplier, shippable_po):
    document = _receive(supplier, fixture("ship_notice.x12"))
    reply = OutboundDocument.objects.get(in_reply_to=document)
    assert reply.format == "x12"
    assert reply.control_number == str(reply.pk)
    parsed_reply = x12.tokenize(io.BytesIO(bytes(reply.content)), x12.ProblemLog())
    tags = [segment.tag for segment in parsed_reply]
    assert tags[:3] == ["ISA", "GS", "ST"]
    assert "AK1" in tags
    assert tags[-1] == "IEA"
    assert b"AK5*A" in bytes(reply.content)
    assert b"AK9*A" in bytes(reply.content)


def test_every_edifact_interchange_gets_a_contrl(supplier, shippable_po):
    document = _receive(supplier, fixture("ship_notice.edi"))
    reply = OutboundDocument.objects.get(in_reply_to=document)
    envelope = edifact.read_envelope(io.BytesIO(bytes(reply.content)))
    assert envelope.control_number == reply.control_number


# --- drop folders -----------------------------------------------------------------------------------


@pytest.fixture
def edi_root(settings, tmp_path):
    settings.SUPPLYLINE_EDI_ROOT = tmp_path
    return tmp_path


def _drop(root: Path, name: str, content: bytes, *, age_s: float = 10) -> Path:
    path = root / "ACME" / "inbound" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def test_a_dropped_interchange_is_applied_moved_and_answered_in_the_outbound_folder(
    supplier, shippable_po, edi_root, django_capture_on_commit_callbacks
):
    _drop(edi_root, "asn.x12", fixture("ship_notice.x12"))
    _drop(edi_root, "bad.x12", fixture("ship_notice.x12", control=55).replace(b"SE*25", b"SE*2"))
    _drop(edi_root, "still-copying.x12", b"ISA", age_s=0)
    _drop(edi_root, "upload.part", b"partial")
    with django_capture_on_commit_callbacks(execute=True):
        assert folders.scan_inbound_folders() == 2
    assert ShipmentNotice.objects.get().number == "ASN-EQ-1"
    assert sorted(p.name for p in (edi_root / "ACME" / "inbound").iterdir()) == ["still-copying.x12", "upload.part"]
    assert [p.name.endswith("-asn.x12") for p in (edi_root / "ACME" / "processed").iterdir()] == [True]
    assert [p.name.endswith("-bad.x12") for p in (edi_root / "ACME" / "rejected").iterdir()] == [True]
    outbound = sorted(p.name for p in (edi_root / "ACME" / "outbound").iterdir())
    assert len(outbound) == 2
    assert all("997-" in name for name in outbound)
    assert InboundDocument.objects.filter(source="folder").count() == 2


def test_a_scan_that_crashed_before_moving_a_file_does_not_apply_it_twice(supplier, shippable_po, edi_root):
    path = _drop(edi_root, "asn.x12", fixture("ship_notice.x12"))
    document_receive(supplier=supplier, content=path.read_bytes(), filename="asn.x12", source="folder", by=None)
    assert folders.scan_inbound_folders() == 1
    assert InboundDocument.objects.count() == 1
    assert ShipmentNotice.objects.count() == 1
    assert list((edi_root / "ACME" / "processed").iterdir())


# --- purchase orders out ------------------------------------------------------------------------------


@pytest.fixture
def edi_supplier(supplier):
    supplier.edi_standard, supplier.edi_id, supplier.edi_qualifier = "x12", "ACME", "ZZ"
    supplier.save(update_fields=["edi_standard", "edi_id", "edi_qualifier"])
    return supplier


def test_an_edi_supplier_gets_each_new_po_as_an_850_once(
    edi_supplier, buyer, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    ItemFactory.create(sku="SKU-EDI")
    with django_capture_on_commit_callbacks(execute=True):
        po = services.purchase_order_issue(
            number="PO-850-1",
            erp_id="E-850-1",
            supplier=edi_supplier,
            buyer=buyer,
            site=SiteFactory.create(code="WH-EDI"),
            order_date=timezone.localdate(),
            lines=[NewLine("SKU-EDI", Decimal(5), Decimal("2.50"), timezone.localdate() + dt.timedelta(days=9))],
        )
    sent = OutboundDocument.objects.get(po=po)
    assert sent.kind == "purchase_order"
    assert sent.po_revision == 1
    assert sent.filename == "850-PO-850-1-r1.x12"
    assert b"BEG*00*" in bytes(sent.content)
    assert b"PO1*" in bytes(sent.content)
    assert replies.purchase_order_send(po) == sent  # once per revision
    assert replies.purchase_orders_unsent_sweep() == 0


def test_the_sweep_sends_what_a_lost_task_left_unsent(edi_supplier, po):
    assert replies.purchase_orders_unsent_sweep() == 1
    assert OutboundDocument.objects.filter(po=po, kind="purchase_order").count() == 1
    assert replies.purchase_orders_unsent_sweep() == 0


def test_an_edifact_supplier_gets_orders(supplier, po):
    supplier.edi_standard = "edifact"
    supplier.save(update_fields=["edi_standard"])
    sent = replies.purchase_order_send(po)
    assert sent is not None
    assert sent.filename.startswith("ORDERS-PO-100001")
    assert edifact.read_envelope(io.BytesIO(bytes(sent.content))).control_number == sent.control_number


def test_a_portal_supplier_gets_no_edi(supplier, po):
    assert replies.purchase_order_send(po) is None
    assert replies.purchase_orders_unsent_sweep() == 0


def test_lines_that_cannot_ship_are_named_in_an_edi_refusal(supplier, shippable_po):
    PurchaseOrderLine.objects.filter(po=shippable_po, line_number=20).update(status=LineStatus.CLOSED)
    document = _receive(supplier, fixture("ship_notice.edi"))
    assert document.status == InboundDocument.Status.REJECTED
    assert any("closed" in e["message"] for e in document.errors)


@pytest.mark.parametrize(
    ("role", "document", "kind", "refused"),
    [
        ("shipping", "acknowledgement.csv", "acknowledgement", "Only a supplier's admins and order desk"),
        ("viewer", "ship_notice.csv", "ship_notice", "Only a supplier's admins, order desk and shipping"),
        ("shipping", "ship_notice.csv", "ship_notice", None),
    ],
)
def test_a_person_needs_the_role_the_web_asks_for(supplier, shippable_po, answerable_po, role, document, kind, refused):
    user = UserFactory.create()
    SupplierMembershipFactory.create(user=user, supplier=supplier, role=role)
    received = _receive(supplier, fixture(document), kind=kind, by=user)
    if refused:
        assert received.status == InboundDocument.Status.REJECTED
        assert received.errors[0]["message"].startswith(refused)
    else:
        assert received.status == InboundDocument.Status.ACCEPTED, received.errors


def test_the_po_page_lists_what_went_out_by_edi(edi_supplier, po, alice_client):
    sent = replies.purchase_order_send(po)
    assert sent is not None
    page = alice_client.get(reverse("purchasing:po-detail", args=[po.number]))
    assert sent.filename in page.text
    assert reverse("purchasing:outbound-document-content", args=[sent.pk]) in page.text
    download = alice_client.get(reverse("purchasing:outbound-document-content", args=[sent.pk]))
    assert download.status_code == 200
    assert b"BEG*00*" in download.content
