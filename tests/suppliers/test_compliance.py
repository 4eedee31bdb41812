"""Compliance documents: uploads and their checks, reviews, downloads, reminders, expiry cases, the pages."""

import datetime as dt
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from config.celery import app as celery_app
from config.uploads import FileTooLarge
from exceptions.models import CaseStatus, CaseType, ExceptionCase
from suppliers import compliance
from suppliers.models import ComplianceDocument, ComplianceDocumentType, SupplierMembership
from suppliers.tasks import sweep_compliance_documents
from tests.factories import SupplierMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
HTML = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
TODAY = timezone.localdate()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def eager_mail(monkeypatch):
    """Run the send-mail task in-process when its on-commit callback fires, so mail.outbox shows the result."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


@pytest.fixture
def iso(db) -> ComplianceDocumentType:
    return ComplianceDocumentType.objects.create(name="ISO 9001 certificate", is_required=True)


@pytest.fixture
def insurance(db) -> ComplianceDocumentType:
    return ComplianceDocumentType.objects.create(name="Insurance certificate", is_required=False)


def _stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def _upload(supplier, document_type, *, content=PDF, name="iso.pdf", valid_from=TODAY, days=365, by=None):
    return compliance.compliance_document_upload(
        supplier=supplier,
        document_type=document_type,
        file=SimpleUploadedFile(name, content),
        valid_from=valid_from,
        valid_to=valid_from + dt.timedelta(days=days),
        by=by,
    )


def _approved(supplier, document_type, *, valid_from, valid_to, buyer):
    document = _upload(supplier, document_type, valid_from=valid_from, days=(valid_to - valid_from).days)
    return compliance.compliance_document_review(document=document, by=buyer, approve=True)


def _post_upload(
    client: Client, iso, supplier, *, content=PDF, name="iso.pdf", valid_from="2026-01-01", valid_to="2027-01-01"
):
    return client.post(
        reverse("suppliers:compliance-upload"),
        {
            "supplier": supplier.pk,
            "document_type": iso.pk,
            "file": SimpleUploadedFile(name, content),
            "valid_from": valid_from,
            "valid_to": valid_to,
        },
    )


# --- Uploads -------------------------------------------------------------------------------------------


def test_a_supplier_admin_uploads_a_pdf_stored_under_a_random_name(
    alice_client, supplier, supplier_user, iso, media_root
):
    response = _post_upload(alice_client, iso, supplier, name="../../etc/Our ISO cert<script>.pdf")

    document = ComplianceDocument.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("suppliers:compliance-document", args=[document.pk])
    assert (document.supplier, document.uploaded_by, document.status) == (supplier, supplier_user, "pending")
    assert (document.content_type, document.size) == ("application/pdf", len(PDF))
    assert document.filename == "Our ISO cert_script_.pdf"
    [stored] = _stored_files(media_root)
    assert stored.parent == media_root / "compliance"
    assert stored.name != document.filename
    assert stored.suffix == ".pdf"
    assert len(stored.stem) == 32
    assert stored.read_bytes() == PDF


def test_the_upload_is_protected_from_cross_site_requests_and_still_works_with_its_token(
    supplier, supplier_user, iso, media_root
):
    """As in production, where the CSRF check runs: it must come after the upload limit is in place, or
    every upload is a 500 (the body would be read before the limit could be added)."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(supplier_user)
    assert _post_upload(client, iso, supplier).status_code == 403
    assert not ComplianceDocument.objects.exists()

    token = str(client.get(reverse("suppliers:compliance-upload")).context["csrf_token"])
    accepted = client.post(
        reverse("suppliers:compliance-upload"),
        {
            "csrfmiddlewaretoken": token,
            "supplier": supplier.pk,
            "document_type": iso.pk,
            "file": SimpleUploadedFile("iso.pdf", PDF),
            "valid_from": "2026-01-01",
            "valid_to": "2027-01-01",
        },
    )
    assert accepted.status_code == 302
    assert ComplianceDocument.objects.get().status == "pending"


@pytest.mark.parametrize(
    ("content", "name", "content_type"),
    [(PNG, "scan.png", "image/png"), (JPEG, "scan.JPG", "image/jpeg"), (JPEG, "scan.jpeg", "image/jpeg")],
)
def test_png_and_jpeg_uploads_are_accepted(supplier, iso, content, name, content_type):
    document = _upload(supplier, iso, content=content, name=name)

    assert document.content_type == content_type
    assert document.file.name.endswith(".png" if content_type == "image/png" else ".jpg")


def test_html_disguised_as_a_pdf_is_refused_and_nothing_is_stored(alice_client, supplier, iso, media_root):
    response = _post_upload(alice_client, iso, supplier, content=HTML, name="certificate.pdf")

    assert response.status_code == 400
    assert response.context["form"].errors["file"] == [
        "The file is not a PDF: it is an HTML or XML document. Upload the real document, not a renamed file."
    ]
    assert not ComplianceDocument.objects.exists()
    assert _stored_files(media_root) == []


@pytest.mark.parametrize(("content", "name"), [(PDF, "cert.html"), (PDF, "cert.exe"), (PDF, "cert"), (PNG, "a.svg")])
def test_other_extensions_are_refused(supplier, iso, media_root, content, name):
    with pytest.raises(ValidationError) as caught:
        _upload(supplier, iso, content=content, name=name)

    assert caught.value.message_dict == {"file": ["Upload a PDF, PNG or JPEG file (.pdf, .png, .jpg or .jpeg)."]}
    assert not ComplianceDocument.objects.exists()
    assert _stored_files(media_root) == []


def test_a_png_named_as_a_pdf_is_refused(supplier, iso):
    with pytest.raises(ValidationError) as caught:
        _upload(supplier, iso, content=PNG, name="cert.pdf")

    assert list(caught.value.message_dict) == ["file"]


def test_a_program_named_as_a_pdf_is_refused_naming_what_it_is(alice_client, supplier, iso, media_root):
    response = _post_upload(alice_client, iso, supplier, content=b"\x7fELF\x02\x01\x01" + bytes(64), name="cert.pdf")

    assert response.status_code == 400
    assert response.context["form"].errors["file"] == [
        "The file is not a PDF: it is a program (ELF). Upload the real document, not a renamed file."
    ]
    assert not ComplianceDocument.objects.exists()
    assert _stored_files(media_root) == []


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("..\\..\\windows\\cert.pdf", "cert.pdf"),
        ("cert\x00.exe.pdf", "cert_.exe.pdf"),
        ("a" * 300 + ".pdf", "a" * 146 + ".pdf"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
    ],
)
def test_a_hostile_file_name_is_display_text_only(supplier, iso, media_root, name, shown):
    document = _upload(supplier, iso, name=name)

    assert document.filename == shown
    [stored] = _stored_files(media_root)
    assert stored.parent == media_root / "compliance"
    assert len(stored.name) == 36


def test_an_oversized_upload_gets_413_with_the_reason(alice_client, supplier, iso, settings, media_root):
    settings.SUPPLYLINE_COMPLIANCE_MAX_BYTES = 1024

    response = _post_upload(alice_client, iso, supplier, content=PDF + b"0" * 2048)

    assert response.status_code == 413
    assert "larger than the limit" in response.content.decode()
    assert not ComplianceDocument.objects.exists()
    assert _stored_files(media_root) == []


def test_the_service_refuses_an_oversized_file_by_its_size(supplier, iso, settings):
    settings.SUPPLYLINE_COMPLIANCE_MAX_BYTES = 10

    with pytest.raises(FileTooLarge):
        _upload(supplier, iso)


@pytest.mark.parametrize("days", [0, -1])
def test_valid_to_must_be_after_valid_from(supplier, iso, media_root, days):
    with pytest.raises(ValidationError) as caught:
        _upload(supplier, iso, days=days)

    assert caught.value.message_dict == {"valid_to": ["The valid-to date must be after the valid-from date."]}
    assert _stored_files(media_root) == []


def test_the_upload_page_names_the_date_field(alice_client, supplier, iso):
    response = _post_upload(alice_client, iso, supplier, valid_from="2027-01-01", valid_to="2026-01-01")

    assert response.status_code == 400
    assert "The valid-to date must be after the valid-from date." in response.content.decode()
    assert not ComplianceDocument.objects.exists()


def test_an_inactive_type_takes_no_uploads(supplier, iso):
    iso.is_active = False
    iso.save(update_fields=["is_active"])

    with pytest.raises(ValidationError) as caught:
        _upload(supplier, iso)

    assert list(caught.value.message_dict) == ["document_type"]


@pytest.mark.parametrize("role", [SupplierMembership.Role.VIEWER, SupplierMembership.Role.ORDER_DESK])
def test_only_a_supplier_admin_may_upload(supplier, iso, role):
    user = UserFactory.create()
    SupplierMembershipFactory.create(user=user, supplier=supplier, role=role)
    client = Client()
    client.force_login(user)

    assert client.get(reverse("suppliers:compliance-upload")).status_code == 403
    assert _post_upload(client, iso, supplier).status_code == 403
    assert not ComplianceDocument.objects.exists()
    # Viewers still see where their supplier stands.
    assert client.get(reverse("suppliers:compliance-overview")).status_code == 200


def test_buyers_do_not_upload(buyer_client, iso):
    assert buyer_client.get(reverse("suppliers:compliance-upload")).status_code == 404


def test_an_admin_cannot_upload_for_another_supplier(alice_client, other_supplier, iso):
    response = alice_client.post(
        reverse("suppliers:compliance-upload"),
        {
            "supplier": other_supplier.pk,
            "document_type": iso.pk,
            "file": SimpleUploadedFile("iso.pdf", PDF),
            "valid_from": "2026-01-01",
            "valid_to": "2027-01-01",
        },
    )

    assert response.status_code == 400
    assert not ComplianceDocument.objects.exists()


# --- Review ---------------------------------------------------------------------------------------------


def test_a_buyer_approves_a_document(buyer_client, buyer, supplier, iso):
    document = _upload(supplier, iso)

    response = buyer_client.post(reverse("suppliers:compliance-review", args=[document.pk]), {"decision": "approve"})

    assert response.status_code == 302
    document.refresh_from_db()
    assert (document.status, document.reviewed_by, document.rejection_reason) == ("approved", buyer, "")


def test_a_rejection_needs_a_reason(buyer_client, supplier, iso):
    document = _upload(supplier, iso)
    url = reverse("suppliers:compliance-review", args=[document.pk])

    response = buyer_client.post(url, {"decision": "reject", "reason": "  "})

    assert response.status_code == 400
    assert "Say why the document is rejected" in response.content.decode()
    document.refresh_from_db()
    assert document.status == "pending"

    buyer_client.post(url, {"decision": "reject", "reason": "The certificate names another company."})
    document.refresh_from_db()
    assert (document.status, document.rejection_reason) == ("rejected", "The certificate names another company.")


def test_a_document_is_reviewed_once(supplier, iso, buyer):
    document = _upload(supplier, iso)
    compliance.compliance_document_review(document=document, by=buyer, approve=True)

    with pytest.raises(ValidationError, match="already reviewed"):
        compliance.compliance_document_review(document=document, by=buyer, approve=False, reason="No")


def test_suppliers_cannot_review(alice_client, supplier, iso):
    document = _upload(supplier, iso)

    response = alice_client.post(reverse("suppliers:compliance-review", args=[document.pk]), {"decision": "approve"})

    assert response.status_code == 404
    document.refresh_from_db()
    assert document.status == "pending"


def test_the_review_queue_lists_pending_documents_oldest_first(buyer_client, buyer, supplier, other_supplier, iso):
    first = _upload(supplier, iso)
    second = _upload(other_supplier, iso)
    compliance.compliance_document_review(document=_upload(supplier, iso), by=buyer, approve=True)

    response = buyer_client.get(reverse("suppliers:compliance-queue"))

    assert [d.pk for d in response.context["page"].items] == [first.pk, second.pk]


def test_the_review_queue_is_keyset_paginated(buyer_client, supplier, iso, settings):
    settings.SUPPLYLINE_PAGE_SIZE = 2
    documents = [_upload(supplier, iso) for _ in range(3)]

    first = buyer_client.get(reverse("suppliers:compliance-queue")).context["page"]
    second = buyer_client.get(reverse("suppliers:compliance-queue"), {"after": first.next_cursor}).context["page"]

    assert [d.pk for d in first.items + second.items] == [d.pk for d in documents]
    assert second.next_cursor is None


def test_the_review_queue_is_for_buyers(alice_client):
    assert alice_client.get(reverse("suppliers:compliance-queue")).status_code == 404


# --- Isolation and downloads ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["suppliers:compliance-document", "suppliers:compliance-download"])
def test_another_suppliers_document_is_404(bob_client, supplier, iso, name):
    document = _upload(supplier, iso)

    assert bob_client.get(reverse(name, args=[document.pk])).status_code == 404


def test_another_suppliers_compliance_page_is_404(bob_client, supplier):
    assert bob_client.get(reverse("suppliers:compliance-supplier", args=[supplier.code])).status_code == 404


def test_the_download_is_an_attachment_of_the_checked_type(alice_client, supplier, iso):
    document = _upload(supplier, iso, name="ISO cert.pdf")

    response = alice_client.get(reverse("suppliers:compliance-download", args=[document.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="ISO cert.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PDF


def test_buyers_download_any_suppliers_document(buyer_client, other_supplier, iso):
    document = _upload(other_supplier, iso, content=PNG, name="scan.png")

    response = buyer_client.get(reverse("suppliers:compliance-download", args=[document.pk]))

    assert (response.status_code, response["Content-Type"]) == (200, "image/png")


# --- Reminders ------------------------------------------------------------------------------------------


def test_reminders_go_30_and_7_days_before_expiry_once_each(
    supplier, supplier_user, buyer, iso, eager_mail, django_capture_on_commit_callbacks
):
    expires = TODAY + dt.timedelta(days=45)
    document = _approved(supplier, iso, valid_from=TODAY - dt.timedelta(days=300), valid_to=expires, buyer=buyer)
    viewer = UserFactory.create()
    SupplierMembershipFactory.create(user=viewer, supplier=supplier, role=SupplierMembership.Role.VIEWER)

    def run(days_left):
        with django_capture_on_commit_callbacks(execute=True):
            return compliance.compliance_reminders_send(today=expires - dt.timedelta(days=days_left))

    assert [run(days_left) for days_left in (45, 31, 30, 30, 29, 8, 7, 7, 3, 0)] == [0, 0, 1, 0, 0, 0, 1, 0, 0, 0]
    assert [message.to for message in mail.outbox] == [[supplier_user.email]] * 2  # admins only
    assert mail.outbox[0].subject == f"Your ISO 9001 certificate expires on {expires:%Y-%m-%d}"
    assert "in 30 days" in mail.outbox[0].body
    assert "in 7 days" in mail.outbox[1].body
    document.refresh_from_db()
    assert document.reminded_30_at is not None
    assert document.reminded_7_at is not None


def test_a_document_first_seen_inside_7_days_gets_only_the_7_day_reminder(supplier, supplier_user, buyer, iso):
    expires = TODAY + dt.timedelta(days=5)
    _approved(supplier, iso, valid_from=TODAY - dt.timedelta(days=300), valid_to=expires, buyer=buyer)

    assert compliance.compliance_reminders_send(today=TODAY) == 1
    assert compliance.compliance_reminders_send(today=TODAY) == 0


def test_a_renewed_document_gets_no_reminder(supplier, buyer, iso):
    old_end = TODAY + dt.timedelta(days=20)
    _approved(supplier, iso, valid_from=TODAY - dt.timedelta(days=300), valid_to=old_end, buyer=buyer)
    _approved(supplier, iso, valid_from=old_end, valid_to=old_end + dt.timedelta(days=365), buyer=buyer)

    assert compliance.compliance_reminders_send(today=TODAY) == 0


def test_pending_and_rejected_documents_get_no_reminder(supplier, buyer, iso):
    _upload(supplier, iso, valid_from=TODAY - dt.timedelta(days=300), days=310)
    rejected = _upload(supplier, iso, valid_from=TODAY - dt.timedelta(days=300), days=310)
    compliance.compliance_document_review(document=rejected, by=buyer, approve=False, reason="Blurred")

    assert compliance.compliance_reminders_send(today=TODAY) == 0


# --- Expiry cases ---------------------------------------------------------------------------------------


def test_an_expired_required_document_opens_a_case_and_an_approved_replacement_clears_it(supplier, buyer, iso):
    _approved(
        supplier, iso, valid_from=TODAY - dt.timedelta(days=400), valid_to=TODAY - dt.timedelta(days=1), buyer=buyer
    )

    sweep_compliance_documents()
    sweep_compliance_documents()  # a rerun updates the one case

    case = ExceptionCase.objects.get()
    assert (case.type, case.status, case.supplier) == (CaseType.COMPLIANCE_EXPIRED, CaseStatus.OPEN, supplier)
    assert case.dedupe_key == f"compliance_expired:{supplier.pk}:{iso.pk}"
    assert "ISO 9001 certificate expired" in case.title

    replacement = _upload(supplier, iso, valid_from=TODAY - dt.timedelta(days=1))
    sweep_compliance_documents()  # a replacement awaiting review does not clear it
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN

    compliance.compliance_document_review(document=replacement, by=buyer, approve=True)
    case.refresh_from_db()
    assert (case.status, case.resolution_code) == (CaseStatus.RESOLVED, "cleared")
    sweep_compliance_documents()
    assert ExceptionCase.objects.count() == 1


def test_the_sweep_clears_a_case_once_a_replacement_comes_into_force(supplier, buyer, iso):
    _approved(
        supplier, iso, valid_from=TODAY - dt.timedelta(days=400), valid_to=TODAY - dt.timedelta(days=1), buyer=buyer
    )
    compliance.compliance_expiry_sweep(today=TODAY)
    # Approved ahead of time: in force only from tomorrow, so the review leaves the case open.
    _approved(
        supplier, iso, valid_from=TODAY + dt.timedelta(days=1), valid_to=TODAY + dt.timedelta(days=365), buyer=buyer
    )
    assert ExceptionCase.objects.get().status == CaseStatus.OPEN

    compliance.compliance_expiry_sweep(today=TODAY + dt.timedelta(days=1))

    assert ExceptionCase.objects.get().status == CaseStatus.RESOLVED


def test_optional_documents_and_other_suppliers_open_no_case(supplier, other_supplier, buyer, iso, insurance):
    _approved(
        supplier,
        insurance,
        valid_from=TODAY - dt.timedelta(days=400),
        valid_to=TODAY - dt.timedelta(days=1),
        buyer=buyer,
    )
    _approved(
        other_supplier,
        iso,
        valid_from=TODAY - dt.timedelta(days=10),
        valid_to=TODAY + dt.timedelta(days=10),
        buyer=buyer,
    )

    assert compliance.compliance_expiry_sweep(today=TODAY) == 0
    assert not ExceptionCase.objects.exists()


def test_a_type_no_longer_required_clears_its_cases(supplier, buyer, iso):
    _approved(
        supplier, iso, valid_from=TODAY - dt.timedelta(days=400), valid_to=TODAY - dt.timedelta(days=1), buyer=buyer
    )
    compliance.compliance_expiry_sweep(today=TODAY)
    iso.is_required = False
    iso.save(update_fields=["is_required"])

    compliance.compliance_expiry_sweep(today=TODAY)

    assert ExceptionCase.objects.get().status == CaseStatus.RESOLVED


# --- Pages ----------------------------------------------------------------------------------------------


def test_a_supplier_sees_its_standing_per_type(alice_client, supplier, other_supplier, buyer, iso, insurance):
    _approved(
        supplier,
        insurance,
        valid_from=TODAY - dt.timedelta(days=10),
        valid_to=TODAY + dt.timedelta(days=300),
        buyer=buyer,
    )
    _upload(other_supplier, iso, name="bolt-secret.pdf")

    response = alice_client.get(reverse("suppliers:compliance-overview"))

    [section] = response.context["sections"]
    assert section["supplier"] == supplier
    assert {row.document_type.name: (row.state, row.needs_attention) for row in section["statuses"]} == {
        "ISO 9001 certificate": ("missing", True),
        "Insurance certificate": ("valid", False),
    }
    content = response.content.decode()
    assert "Action needed" in content
    assert "bolt-secret" not in content


def test_an_expiring_and_an_expired_document_show_as_such(supplier, buyer, iso, insurance):
    expired = _approved(
        supplier, iso, valid_from=TODAY - dt.timedelta(days=400), valid_to=TODAY - dt.timedelta(days=1), buyer=buyer
    )
    expiring = _approved(
        supplier,
        insurance,
        valid_from=TODAY - dt.timedelta(days=300),
        valid_to=TODAY + dt.timedelta(days=10),
        buyer=buyer,
    )

    rows = compliance.compliance_status(
        supplier=supplier, documents=[expired, expiring], types=[iso, insurance], today=TODAY
    )

    assert [(row.state, row.needs_attention) for row in rows] == [("expired", True), ("expiring", False)]


def test_buyers_are_sent_to_the_review_queue_and_see_any_supplier(buyer_client, supplier):
    assert buyer_client.get(reverse("suppliers:compliance-overview"))["Location"] == reverse(
        "suppliers:compliance-queue"
    )
    assert buyer_client.get(reverse("suppliers:compliance-supplier", args=[supplier.code])).status_code == 200


def test_the_detail_page_shows_the_review_form_to_buyers_only(alice_client, buyer_client, supplier, iso):
    document = _upload(supplier, iso)
    url = reverse("suppliers:compliance-document", args=[document.pk])

    assert alice_client.get(url).context["review_form"] is None
    assert buyer_client.get(url).context["review_form"] is not None


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_lists_cost_the_same_queries_however_many_documents(
    buyer_client, alice_client, supplier, other_supplier, iso, insurance
):
    queue = reverse("suppliers:compliance-queue")
    standing = reverse("suppliers:compliance-overview")
    _upload(supplier, iso)
    few = _queries(buyer_client, queue), _queries(alice_client, standing)

    for document_type in (iso, insurance):
        for owner in (supplier, other_supplier):
            _upload(owner, document_type, by=UserFactory.create())

    assert (_queries(buyer_client, queue), _queries(alice_client, standing)) == few


def test_the_expiry_case_shows_in_the_buyers_case_page(buyer_client, supplier, buyer, iso):
    _approved(
        supplier, iso, valid_from=TODAY - dt.timedelta(days=400), valid_to=TODAY - dt.timedelta(days=1), buyer=buyer
    )
    compliance.compliance_expiry_sweep(today=TODAY)
    case = ExceptionCase.objects.get()

    response = buyer_client.get(reverse("exceptions:case-detail", args=[case.pk]))

    assert response.status_code == 200
    assert case.assignee == buyer  # the supplier's buyer
    assert "ISO 9001 certificate expired" in response.content.decode()
