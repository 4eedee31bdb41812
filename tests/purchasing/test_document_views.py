"""The documents pages: upload, what became of a file, downloads, templates; who may see and send what."""

import datetime as dt
import hashlib
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from purchasing.documents import spreadsheet
from purchasing.models import (
    DocumentKind,
    InboundDocument,
    OutboundDocument,
    PurchaseOrderLine,
    ShipmentNotice,
)
from suppliers.models import SupplierMembership
from tests.factories import SupplierMembershipFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("portal_defaults")]

LIST = reverse("purchasing:document-list")
TODAY = timezone.localdate()


def _day(days: int) -> str:
    return (TODAY + dt.timedelta(days=days)).isoformat()


def asn_csv(number: str = "ASN-7001", *, bolts: str = "40", nuts: str = "60") -> bytes:
    """A ship notice of PO-200001 in the documented CSV layout (spreadsheet/)."""
    rows = [
        "asn_number,ship_date,estimated_arrival,carrier_name,po_number,po_line,item_sku,quantity",
        f"{number},{_day(0)},{_day(2)},UPS,PO-200001,10,SKU-BOLT,{bolts}",
        f"{number},{_day(0)},{_day(2)},UPS,PO-200001,20,SKU-NUT,{nuts}",
    ]
    return ("\r\n".join(rows) + "\r\n").encode()


def asn_x12(control: str = "000000501", number: str = "ASN-X12-1") -> bytes:
    """A loose-item 856 of PO-200001 line 10 (what an EDI supplier's system sends)."""
    ship = (TODAY).strftime("%Y%m%d")
    segments = [
        f"ISA*00*          *00*          *ZZ*ACMESUPPLY     *ZZ*SUPPLYLINE     *260315*1402*U*00401*{control}*0*P*>",
        f"GS*SH*ACMESUPPLY*SUPPLYLINE*20260315*1402*{int(control)}*X*004010",
        "ST*856*0001",
        f"BSN*00*{number}*{ship}*0930",
        "HL*1**S",
        "TD5*B*2*FDEG**FedEx Ground",
        f"DTM*011*{ship}",
        "HL*2*1*O",
        "PRF*PO-200001",
        "HL*3*2*I",
        "LIN*10*BP*SKU-BOLT",
        "SN1**25*EA",
        "CTT*3",
        "SE*12*0001",
        f"GE*1*{int(control)}",
        f"IEA*1*{control}",
    ]
    return ("~\n".join(segments) + "~\n").encode()


def upload(client: Client, content: bytes, name: str = "asn.csv", **fields: str):
    return client.post(LIST, {**fields, "file": SimpleUploadedFile(name, content)})


def stored(supplier, **fields) -> InboundDocument:
    content = fields.pop("content", b"asn_number,ship_date\r\n")
    values = {
        "source": InboundDocument.Source.UPLOAD,
        "format": "csv",
        "kind": DocumentKind.SHIP_NOTICE,
        "filename": "asn.csv",
        "status": InboundDocument.Status.ACCEPTED,
    } | fields
    return InboundDocument.objects.create(
        supplier=supplier, content=content, size=len(content), sha256=hashlib.sha256(content).hexdigest(), **values
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- upload ------------------------------------------------------------------------------------


def test_a_csv_ship_notice_uploaded_through_the_page_creates_the_notice(alice_client, shippable_po):
    response = upload(alice_client, asn_csv(), kind="ship_notice")

    document = InboundDocument.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("purchasing:document-detail", args=[document.pk])
    assert (document.status, document.source, document.format) == ("accepted", "upload", "csv")
    notice = ShipmentNotice.objects.get(supplier=shippable_po.supplier, number="ASN-7001")
    assert notice.document == document
    assert PurchaseOrderLine.objects.get(po=shippable_po, line_number=10).shipped_quantity == Decimal(40)

    page = alice_client.get(response["Location"])
    assert messages_of(page) == ["asn.csv was accepted: it created 1 shipment notice."]
    assert reverse("purchasing:shipment-detail", args=[notice.pk]).encode() in page.content


def test_a_bad_csv_is_rejected_with_rows_and_columns_and_writes_nothing(alice_client, shippable_po):
    bad = (
        "asn_number,ship_date,po_number,po_line,quantity\r\n"
        f"ASN-7002,03/02/2026,PO-200001,10,40\r\n"
        f"ASN-7002,{_day(0)},PO-200001,20,-5\r\n"
    ).encode()

    response = upload(alice_client, bad, "bad.csv", kind="ship_notice")

    document = InboundDocument.objects.get()
    assert document.status == "rejected"
    assert {(e.get("row"), e.get("column")) for e in document.errors} >= {(2, "ship_date"), (3, "quantity")}
    assert not ShipmentNotice.objects.exists()
    assert PurchaseOrderLine.objects.get(po=shippable_po, line_number=20).shipped_quantity == 0
    page = alice_client.get(response["Location"])
    count = len(document.errors)
    assert messages_of(page) == [f"bad.csv was rejected with {count} errors: nothing in it was applied."]
    html = page.content.decode()
    table = html[html.index('<table class="table compact errors"') : html.index("</table>")]
    headers = re.findall(r'<th scope="col">([^<]+)</th>', table)
    assert headers == ["Error", "Row", "Column"]  # only the columns that have values
    assert "<td>ship_date</td>" in table


def test_an_interchange_sent_again_is_a_duplicate_that_changes_nothing(alice_client, shippable_po):
    first = upload(alice_client, asn_x12(), "asn1.x12")
    second = upload(alice_client, asn_x12(), "asn1-again.x12")

    original, again = InboundDocument.objects.order_by("id")
    assert (original.status, again.status) == ("accepted", "duplicate")
    assert again.duplicate_of == original
    assert ShipmentNotice.objects.filter(number="ASN-X12-1").count() == 1
    assert PurchaseOrderLine.objects.get(po=shippable_po, line_number=10).shipped_quantity == Decimal(25)
    assert first.status_code == second.status_code == 302
    page = alice_client.get(second["Location"])
    assert messages_of(page)[-1] == "asn1-again.x12 is a duplicate of an interchange already applied: nothing changed."
    assert reverse("purchasing:document-detail", args=[original.pk]).encode() in page.content
    assert b"000000501" in page.content  # the envelope's control number
    (reply,) = again.replies.all()  # every interchange is answered, a duplicate too
    assert reverse("purchasing:outbound-document-content", args=[reply.pk]).encode() in page.content
    download = alice_client.get(reverse("purchasing:outbound-document-content", args=[reply.pk]))
    assert download["Content-Type"] == "application/octet-stream"
    assert download.content.startswith(b"ISA")


def test_a_spreadsheet_without_what_it_holds_is_refused_by_the_form(alice_client, shippable_po):
    response = upload(alice_client, asn_csv())
    assert response.status_code == 400
    assert "Say what the file holds" in response.content.decode()
    assert not InboundDocument.objects.exists()


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(20_000, id="known-from-the-request-length"),
        pytest.param(40_000, id="found-while-streaming"),
    ],
)
def test_a_file_over_the_limit_is_refused_before_it_is_stored(alice_client, shippable_po, settings, size):
    # 20 kB is over 1 kB with the form's allowance; 40 kB is within 30 kB's, so only counting the bytes finds it.
    settings.SUPPLYLINE_DOCUMENT_MAX_BYTES = 1_000 if size == 20_000 else 30_000

    response = upload(alice_client, b"x" * size, kind="ship_notice")

    assert response.status_code == 413
    assert "The file is larger than" in response.content.decode()
    assert not InboundDocument.objects.exists()


def test_the_upload_is_protected_from_cross_site_requests(supplier_user, shippable_po):
    client = Client(enforce_csrf_checks=True)
    client.force_login(supplier_user)
    refused = client.post(LIST, {"kind": "ship_notice", "file": SimpleUploadedFile("a.csv", asn_csv())})
    assert refused.status_code == 403

    token = client.get(LIST).context["csrf_token"]
    accepted = client.post(
        LIST, {"csrfmiddlewaretoken": str(token), "kind": "ship_notice", "file": SimpleUploadedFile("a.csv", asn_csv())}
    )
    assert accepted.status_code == 302
    assert InboundDocument.objects.get().status == "accepted"


def test_a_user_of_two_suppliers_sends_files_for_the_active_one(alice_client, supplier_user, other_supplier):
    SupplierMembershipFactory(user=supplier_user, supplier=other_supplier)
    assert "supplier" not in alice_client.get(LIST).context["form"].fields
    # Naming the other supplier changes nothing: the file is the active supplier's.
    upload(alice_client, asn_csv(), kind="ship_notice", supplier="BOLT")
    assert [d.supplier.code for d in InboundDocument.objects.all()] == ["ACME"]

    alice_client.post(reverse("suppliers:active-supplier-set"), {"supplier": other_supplier.pk})
    upload(alice_client, asn_csv(), kind="ship_notice")
    assert sorted(d.supplier.code for d in InboundDocument.objects.all()) == ["ACME", "BOLT"]


def test_a_buyer_sees_no_upload_form_and_cannot_upload(buyer_client, shippable_po):
    page = buyer_client.get(LIST)
    assert page.status_code == 200
    assert page.context["form"] is None
    assert b'enctype="multipart/form-data"' not in page.content

    response = upload(buyer_client, asn_csv(), kind="ship_notice", supplier="ACME")
    assert response.status_code == 404
    assert not InboundDocument.objects.exists()


def test_a_viewer_cannot_upload(client, supplier, shippable_po):
    viewer = UserFactory()
    SupplierMembershipFactory(user=viewer, supplier=supplier, role=SupplierMembership.Role.VIEWER)
    client.force_login(viewer)
    assert client.get(LIST).context["form"] is None
    assert upload(client, asn_csv(), kind="ship_notice").status_code == 403
    assert not InboundDocument.objects.exists()


# --- the list ------------------------------------------------------------------------------------


def test_a_supplier_lists_its_own_documents_and_a_buyer_everyones_with_the_supplier(
    alice_client, buyer_client, supplier, other_supplier
):
    ours = stored(supplier, filename="ours.csv", outcome={"shipments": ["ASN-1", "ASN-2"], "acknowledgements": []})
    theirs = stored(other_supplier, filename="theirs.csv")

    mine = alice_client.get(LIST)
    assert [row[0] for row in mine.context["rows"]] == [ours]
    assert mine.context["rows"][0][1] == "2 shipment notices"
    assert b'scope="col">Supplier<' not in mine.content

    everyone = buyer_client.get(LIST)
    assert {row[0] for row in everyone.context["rows"]} == {ours, theirs}
    assert b'scope="col">Supplier<' in everyone.content
    assert {row[0] for row in buyer_client.get(LIST, {"supplier": "BOLT"}).context["rows"]} == {theirs}


def test_the_list_filters_by_status_and_format_and_pages(alice_client, supplier, settings):
    settings.SUPPLYLINE_PAGE_SIZE = 2
    rejected = stored(supplier, status="rejected", errors=[{"message": "Bad."}])
    edi = stored(supplier, format="x12", filename="in.x12")
    for _ in range(3):
        stored(supplier)

    assert [r[0] for r in alice_client.get(LIST, {"status": "rejected"}).context["rows"]] == [rejected]
    assert [r[0] for r in alice_client.get(LIST, {"format": "x12"}).context["rows"]] == [edi]
    first = alice_client.get(LIST)
    assert first.context["page"].next_cursor
    second = alice_client.get(LIST, {"after": first.context["page"].next_cursor})
    assert len(second.context["rows"]) == 2
    assert not {r[0].pk for r in first.context["rows"]} & {r[0].pk for r in second.context["rows"]}


def test_the_empty_list_explains_every_way_to_send_documents(alice_client, supplier):
    html = alice_client.get(LIST).content.decode()
    assert "No documents yet." in html
    assert "<strong>Upload</strong>" in html
    assert "<strong>The API</strong>" in html
    assert "<code>ACME/inbound/</code>" in html


def test_a_buyer_sees_where_the_drop_folders_are(buyer_client, settings, tmp_path):
    settings.SUPPLYLINE_EDI_ROOT = tmp_path
    assert f"<code>{tmp_path}/&lt;supplier code&gt;/inbound/</code>" in buyer_client.get(LIST).content.decode()


# --- detail and downloads ------------------------------------------------------------------------


def test_the_detail_links_what_the_document_created_and_our_replies(alice_client, supplier, shippable_po):
    document = stored(
        supplier,
        format="x12",
        kind=DocumentKind.ACKNOWLEDGEMENT,
        sender_id="ACMESUPPLY",
        control_number="000000777",
        outcome={"shipments": [], "acknowledgements": [{"po_number": "PO-200001", "id": 1, "revision": 1}]},
    )
    reply = OutboundDocument.objects.create(
        supplier=supplier,
        format="x12",
        kind=DocumentKind.FUNCTIONAL_ACK,
        filename="997-000000777.x12",
        content=b"ISA*...~",
        control_number="000000900",
        in_reply_to=document,
    )

    html = alice_client.get(reverse("purchasing:document-detail", args=[document.pk])).content.decode()

    assert reverse("purchasing:po-detail", args=["PO-200001"]) in html
    assert "ACMESUPPLY" in html
    assert "000000777" in html
    assert reverse("purchasing:outbound-document-content", args=[reply.pk]) in html
    assert reverse("purchasing:document-content", args=[document.pk]) in html
    assert "Errors" not in html


def test_the_raw_download_is_an_attachment_with_a_safe_name(alice_client, supplier):
    content = b"<script>alert(1)</script>"
    document = stored(supplier, filename='..\\..\\evil "name".html', content=content)

    response = alice_client.get(reverse("purchasing:document-content", args=[document.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="evil _name_.html"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content == content


def test_a_download_without_a_usable_name_gets_one(alice_client, supplier):
    document = stored(supplier, filename="../")
    response = alice_client.get(reverse("purchasing:document-content", args=[document.pk]))
    assert response["Content-Disposition"] == f'attachment; filename="document-{document.pk}"'


def test_a_reply_we_sent_downloads_as_an_attachment(alice_client, supplier):
    reply = OutboundDocument.objects.create(
        supplier=supplier,
        format="x12",
        kind="functional_ack",
        filename="997-1.x12",
        content=b"ISA~",
        control_number="1",
    )
    response = alice_client.get(reverse("purchasing:outbound-document-content", args=[reply.pk]))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="997-1.x12"'
    assert response.content == b"ISA~"


@pytest.mark.parametrize("name", ["document-detail", "document-content", "outbound-document-content"])
def test_an_outsider_gets_404_for_another_suppliers_documents(bob_client, supplier, name):
    document = stored(supplier)
    reply = OutboundDocument.objects.create(
        supplier=supplier, format="x12", kind="functional_ack", filename="997.x12", content=b"x", control_number="1"
    )
    pk = reply.pk if name == "outbound-document-content" else document.pk
    assert bob_client.get(reverse(f"purchasing:{name}", args=[pk])).status_code == 404


def test_an_outsider_does_not_list_another_suppliers_documents(bob_client, supplier):
    stored(supplier)
    assert bob_client.get(LIST).context["rows"] == []


# --- templates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "fmt", "content_type", "filename"),
    [
        ("ship_notice", "csv", "text/csv; charset=utf-8", "supplyline-ship-notices-template.csv"),
        ("acknowledgement", "csv", "text/csv; charset=utf-8", "supplyline-acknowledgements-template.csv"),
        (
            "ship_notice",
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "supplyline-ship-notices-template.xlsx",
        ),
        (
            "acknowledgement",
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "supplyline-acknowledgements-template.xlsx",
        ),
    ],
)
def test_templates_download_with_their_type_and_name(alice_client, kind, fmt, content_type, filename):
    response = alice_client.get(reverse("purchasing:document-template", args=[kind, fmt]))
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    if fmt == "csv":
        assert response.content == spreadsheet.template_csv(DocumentKind(kind))
    else:
        assert response.content.startswith(b"PK\x03\x04")


@pytest.mark.parametrize(("kind", "fmt"), [("purchase_order", "csv"), ("ship_notice", "pdf"), ("x", "xlsx")])
def test_an_unknown_template_is_404(alice_client, kind, fmt):
    assert alice_client.get(reverse("purchasing:document-template", args=[kind, fmt])).status_code == 404


def test_the_page_links_every_template(alice_client):
    html = alice_client.get(LIST).content.decode()
    for kind in ("ship_notice", "acknowledgement"):
        for fmt in ("csv", "xlsx"):
            assert reverse("purchasing:document-template", args=[kind, fmt]) in html


def test_an_htmx_filter_request_gets_only_the_results(alice_client, supplier):
    stored(supplier, filename="ours.csv")
    response = alice_client.get(LIST, {"status": "accepted"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="document-results">')
    assert "ours.csv" in html
    assert "<html" not in html
