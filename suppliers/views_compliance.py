"""Compliance document pages: suppliers' standing and uploads, the buyers' review queue, authorised downloads."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.http import AuthedRequest
from config.keyset import paginate_request
from config.uploads import FileTooLarge, SizeLimitedUpload, size_limited_upload
from suppliers import compliance
from suppliers.forms_compliance import ComplianceReviewForm, ComplianceUploadForm
from suppliers.models import ComplianceDocument, ComplianceDocumentType, Supplier, SupplierMembership, is_buyer
from suppliers.views import administered_supplier


def _standing(request: AuthedRequest, suppliers: list[Supplier]) -> list[dict[str, Any]]:
    """Each supplier's status per type and its documents, in two queries however many suppliers."""
    documents = list(
        ComplianceDocument.objects.visible_to(request.user)
        .filter(supplier__in=suppliers)
        .select_related("document_type", "uploaded_by")
    )
    types = list(ComplianceDocumentType.objects.filter(is_active=True))
    today = timezone.localdate()
    return [
        {
            "supplier": supplier,
            "statuses": compliance.compliance_status(supplier=supplier, documents=documents, types=types, today=today),
            "documents": [d for d in documents if d.supplier_id == supplier.pk],
        }
        for supplier in suppliers
    ]


def _may_upload(request: AuthedRequest) -> bool:
    """Uploads are the active supplier's admins' alone, as API keys are."""
    return SupplierMembership.objects.acting_in_role(request.user, SupplierMembership.ADMIN_ROLES)


@require_GET
@login_required
def compliance_overview(request: AuthedRequest) -> HttpResponse:
    """A supplier user's own standing; buyers work from the review queue."""
    if is_buyer(request.user):
        return redirect("suppliers:compliance-queue")
    suppliers = list(Supplier.objects.visible_to(request.user))
    may_upload = _may_upload(request)
    context = {"sections": _standing(request, suppliers), "may_upload": may_upload}
    return render(request, "suppliers/compliance_overview.html", context)


@require_GET
@login_required
def compliance_supplier(request: AuthedRequest, code: str) -> HttpResponse:
    supplier = get_object_or_404(Supplier.objects.visible_to(request.user), code=code)
    may_upload = not is_buyer(request.user) and _may_upload(request)
    context = {"sections": _standing(request, [supplier]), "may_upload": may_upload, "supplier": supplier}
    return render(request, "suppliers/compliance_overview.html", context)


@require_http_methods(["GET", "POST"])
@login_required
@size_limited_upload(compliance.max_upload_bytes)
def compliance_upload(request: AuthedRequest, upload_limit: SizeLimitedUpload | None) -> HttpResponse:
    suppliers = administered_supplier(request)
    data = (request.POST, request.FILES) if request.method == "POST" else ()
    # Asked only now: the body is parsed, and the limit applied, when request.POST is first read.
    refused = upload_limit is not None and upload_limit.refused
    form = ComplianceUploadForm(*data, suppliers=suppliers, too_large=refused)
    if form.is_bound and form.is_valid():
        try:
            document = compliance.compliance_document_upload(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
            refused = isinstance(error, FileTooLarge)
        else:
            messages.success(request, f"Your {document.document_type.name} is uploaded and awaits a buyer's review.")
            return redirect("suppliers:compliance-document", pk=document.pk)
    status = 200
    if form.is_bound:
        status = 413 if refused else 400
    return render(request, "suppliers/compliance_upload.html", {"form": form}, status=status)


def _get_document(request: AuthedRequest, pk: int) -> ComplianceDocument:
    """The document if the user may see it; 404 for another supplier's, never 403."""
    documents = ComplianceDocument.objects.visible_to(request.user).select_related(
        "supplier", "document_type", "uploaded_by", "reviewed_by"
    )
    return get_object_or_404(documents, pk=pk)


@require_GET
@login_required
def compliance_document(request: AuthedRequest, pk: int) -> HttpResponse:
    document = _get_document(request, pk)
    buyer = is_buyer(request.user)
    may_review = buyer and document.status == ComplianceDocument.Status.PENDING
    context = {"document": document, "review_form": ComplianceReviewForm() if may_review else None, "buyer": buyer}
    return render(request, "suppliers/compliance_detail.html", context)


@require_GET
@login_required
def compliance_download(request: AuthedRequest, pk: int) -> FileResponse:
    """Always an attachment with the type we checked on upload, never rendered inline: the bytes are untrusted."""
    document = _get_document(request, pk)
    response = FileResponse(
        document.file.open("rb"), as_attachment=True, filename=document.filename, content_type=document.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
@login_required
def compliance_review(request: AuthedRequest, pk: int) -> HttpResponse:
    if not is_buyer(request.user):
        raise Http404
    document = _get_document(request, pk)
    form = ComplianceReviewForm(request.POST)
    if form.is_valid():
        try:
            compliance.compliance_document_review(
                document=document,
                by=request.user,
                approve=form.cleaned_data["decision"] == "approve",
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"The document is {document.get_status_display().lower()}.")
            return redirect("suppliers:compliance-queue")
    context = {"document": document, "review_form": form, "buyer": True}
    return render(request, "suppliers/compliance_detail.html", context, status=400)


@require_GET
@login_required
def compliance_queue(request: AuthedRequest) -> HttpResponse:
    """Documents awaiting review, oldest first, for buyers."""
    if not is_buyer(request.user):
        raise Http404
    page = paginate_request(request, compliance.compliance_review_queue(), ordering=compliance.REVIEW_ORDERING)
    return render(request, "suppliers/compliance_queue.html", {"page": page})
