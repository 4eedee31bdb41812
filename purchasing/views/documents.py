"""B2B documents: the upload form and list, what became of a document, our replies, the templates to fill in."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods

from config.http import AuthedRequest
from config.keyset import paginate_request
from config.uploads import FileTooLarge, SizeLimitedUpload, safe_filename, size_limited_upload
from purchasing import selectors
from purchasing.documents import spreadsheet
from purchasing.documents.forms import DocumentUploadForm
from purchasing.documents.intake import document_receive
from purchasing.filters import InboundDocumentFilter
from purchasing.models import DocumentKind, InboundDocument
from suppliers.models import Supplier, SupplierMembership, is_buyer

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEMPLATE_NAMES = {DocumentKind.SHIP_NOTICE: "ship-notices", DocumentKind.ACKNOWLEDGEMENT: "acknowledgements"}
ERROR_COLUMNS = (
    ("segment", "Segment"),
    ("position", "Position"),
    ("element", "Element"),
    ("line", "Line"),
    ("row", "Row"),
    ("column", "Column"),
)


def created_summary(outcome: dict[str, Any]) -> str:
    """What a document created, counted: "2 shipment notices, 1 acknowledgement"."""
    parts = []
    for key, one, many in (
        ("shipments", "shipment notice", "shipment notices"),
        ("acknowledgements", "acknowledgement", "acknowledgements"),
    ):
        count = len(outcome.get(key, []))
        if count:
            parts.append(f"{count} {one if count == 1 else many}")
    return ", ".join(parts)


def _list_context(request: AuthedRequest) -> dict[str, Any]:
    buyer = is_buyer(request.user)
    visible = Supplier.objects.visible_to(request.user).order_by("code")
    filterset = InboundDocumentFilter(
        request.GET,
        queryset=selectors.inbound_document_list(user=request.user),
        suppliers=visible if buyer or len(visible) > 1 else None,
    )
    valid = filterset.is_valid()
    page = paginate_request(
        request, filterset.qs if valid else InboundDocument.objects.none(), ordering=InboundDocumentFilter.ordering
    )
    query = request.GET.copy()
    for key in ("after", "before"):
        query.pop(key, None)
    return {
        "filter": filterset,
        "page": page,
        "rows": [(document, created_summary(document.outcome)) for document in page.items],
        "query": query.urlencode(),
        "filtered": any(request.GET.get(name) for name in filterset.filters),
        "show_supplier": buyer or len(visible) > 1,
        "drop_folders": [f"{supplier.code}/inbound/" for supplier in visible] if not buyer else [],
        "edi_root": str(settings.SUPPLYLINE_EDI_ROOT) if buyer else "",
        "templates": _template_links(),
    }


def _template_links() -> list[tuple[str, str, str]]:
    kinds = ((DocumentKind.SHIP_NOTICE, "Shipment notices"), (DocumentKind.ACKNOWLEDGEMENT, "Acknowledgements"))
    return [(label, kind, fmt) for kind, label in kinds for fmt in ("csv", "xlsx")]


@require_http_methods(["GET", "POST"])
@login_required
@size_limited_upload(lambda: int(settings.SUPPLYLINE_DOCUMENT_MAX_BYTES))
def document_list(request: AuthedRequest, upload_limit: SizeLimitedUpload | None) -> HttpResponse:
    suppliers = selectors.document_upload_suppliers(user=request.user)
    may_upload = suppliers.exists()
    if request.method == "POST" and not may_upload:
        if is_buyer(request.user) or not SupplierMembership.objects.supplier_ids_of(request.user).exists():
            raise Http404
        raise PermissionDenied("Your role can view documents but not send them. Ask your administrator.")
    form = None
    status = 200
    if may_upload:
        max_bytes = int(settings.SUPPLYLINE_DOCUMENT_MAX_BYTES)
        data = (request.POST, request.FILES) if request.method == "POST" else ()
        # Asked only now: the body is parsed, and the limit applied, when request.POST is first read.
        refused = upload_limit is not None and upload_limit.refused
        form = DocumentUploadForm(*data, suppliers=suppliers, max_bytes=max_bytes, too_large=refused)
        if form.is_bound and form.is_valid():
            try:
                return _receive(request, form)
            except ValidationError as error:
                form.add_error("file", error.messages)  # document_receive refuses a file keyed "file" only
                refused = isinstance(error, FileTooLarge)
        if form.is_bound:
            status = 413 if refused else 400
    context = _list_context(request) | {"form": form}
    template = "purchasing/document_list.html#document-results" if request.htmx else "purchasing/document_list.html"
    return render(request, template, context, status=status)


def _receive(request: AuthedRequest, form: DocumentUploadForm) -> HttpResponse:
    upload = form.cleaned_data["file"]
    document = document_receive(
        supplier=form.chosen_supplier,
        content=upload.read(),
        filename=upload.name or "",
        source=InboundDocument.Source.UPLOAD,
        by=request.user,
        kind=form.cleaned_data["kind"],
    )
    _tell_outcome(request, document)
    return redirect("purchasing:document-detail", pk=document.pk)


def _tell_outcome(request: AuthedRequest, document: InboundDocument) -> None:
    name = document.filename or "The file"
    if document.status == InboundDocument.Status.ACCEPTED:
        created = created_summary(document.outcome) or "nothing"
        messages.success(request, f"{name} was accepted: it created {created}.")
    elif document.status == InboundDocument.Status.DUPLICATE:
        messages.warning(request, f"{name} is a duplicate of an interchange already applied: nothing changed.")
    else:
        count = len(document.errors)
        messages.error(
            request, f"{name} was rejected with {count} error{'' if count == 1 else 's'}: nothing in it was applied."
        )


@require_GET
@login_required
def document_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    document = selectors.inbound_document_get(user=request.user, pk=pk)
    shipments, acknowledgements = selectors.document_created(document=document)
    columns = [(key, label) for key, label in ERROR_COLUMNS if any(key in error for error in document.errors)]
    context = {
        "document": document,
        "error_columns": [label for _, label in columns],
        "error_rows": [
            (error.get("message", ""), [error.get(key, "") for key, _ in columns]) for error in document.errors
        ],
        "shipments": shipments,
        "acknowledgements": acknowledgements,
        "replies": selectors.document_replies(document=document),
        "show_supplier": is_buyer(request.user),
    }
    return render(request, "purchasing/document_detail.html", context)


def _attachment(content: bytes | memoryview, filename: str, fallback: str) -> HttpResponse:
    """Bytes a supplier sent (or we generated for one), never shown inline: they are untrusted."""
    response = HttpResponse(bytes(content), content_type="application/octet-stream")
    response["Content-Disposition"] = content_disposition_header(True, safe_filename(filename, fallback))
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@login_required
def document_content(request: AuthedRequest, pk: int) -> HttpResponse:
    document = selectors.inbound_document_get(user=request.user, pk=pk, with_content=True)
    return _attachment(document.content, document.filename, f"document-{document.pk}")


@require_GET
@login_required
def outbound_document_content(request: AuthedRequest, pk: int) -> HttpResponse:
    document = selectors.outbound_document_get(user=request.user, pk=pk)
    return _attachment(document.content, document.filename, f"sent-document-{document.pk}")


@require_GET
@login_required
def document_template(request: AuthedRequest, kind: str, fmt: str) -> HttpResponse:
    if kind not in TEMPLATE_NAMES or fmt not in ("csv", "xlsx"):
        raise Http404("No such template.")
    document_kind = DocumentKind(kind)
    if fmt == "csv":
        response = HttpResponse(spreadsheet.template_csv(document_kind), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(spreadsheet.template_xlsx(document_kind), content_type=XLSX_TYPE)
    filename = f"supplyline-{TEMPLATE_NAMES[document_kind]}-template.{fmt}"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
