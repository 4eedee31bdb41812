"""B2B documents over the API: upload a CSV, Excel, X12 or EDIFACT file; read what became of it."""

from __future__ import annotations

from typing import Any, ClassVar

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.errors import PROBLEM_CONTENT_TYPE, ProblemSerializer, problem_body
from config.api.idempotency import idempotent
from config.api.uploads import PayloadTooLarge, RawBodyParser, SizeLimitedMultiPartParser
from config.api.views import SupplierApiView, SupplierUploadApiView
from config.uploads import FileTooLarge
from purchasing import selectors
from purchasing.api.common import key_supplier, problems, validated
from purchasing.documents.intake import document_receive
from purchasing.models import InboundDocument
from purchasing.serializers import DocumentOutput, DocumentUploadInput

DOCUMENT_REJECTED = "urn:supplyline:problem:document-rejected"


class CsvParser(RawBodyParser):
    media_type = "text/csv"


class X12Parser(RawBodyParser):
    media_type = "application/edi-x12"


class EdifactParser(RawBodyParser):
    media_type = "application/edifact"


class XlsxParser(RawBodyParser):
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


RAW_PARSERS = (CsvParser, X12Parser, EdifactParser, XlsxParser)
_DEFAULT_NAMES = {
    CsvParser.media_type: "upload.csv",
    X12Parser.media_type: "upload.x12",
    EdifactParser.media_type: "upload.edi",
    XlsxParser.media_type: "upload.xlsx",
}


class RawUploadQuery(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(
        choices=[("ship_notice", "Ship notice"), ("acknowledgement", "PO acknowledgement")], required=False, default=""
    )
    filename = serializers.CharField(required=False, default="", allow_blank=True, max_length=255)


class DocumentRejectedProblem(ProblemSerializer):
    # Absent on a plain validation problem (e.g. no file), which shares the 422.
    document = DocumentOutput(required=False, help_text="The document as stored, with its errors (when rejected).")


def document_json(request: Request, document: InboundDocument) -> dict[str, Any]:
    context = {
        "url": request.build_absolute_uri(reverse("api:document-detail", args=[document.pk])),
        "shipment_ids": selectors.api_document_shipments(document=document),
    }
    data: dict[str, Any] = DocumentOutput(document, context=context).data
    return data


def _upload(request: Request) -> tuple[bytes, str, str, str]:
    """The file's bytes, its name, the kind the client says it holds and the media type it was sent as
    (a raw body's), from a form or a raw body."""
    if isinstance(request.data, bytes):
        query = validated(RawUploadQuery(data=request.query_params.dict()))
        media_type = (request.content_type or "").split(";")[0].strip()
        return request.data, query["filename"] or _DEFAULT_NAMES.get(media_type, "upload"), query["kind"], media_type
    data = validated(DocumentUploadInput(data=request.data))
    upload = data["file"]
    return upload.read(), upload.name or "upload", data["kind"], ""


_RAW_BODY = {parser.media_type: OpenApiTypes.BINARY for parser in RAW_PARSERS}


class DocumentCreateApi(SupplierUploadApiView):
    required_scopes: ClassVar[dict[str, str]] = {"POST": "documents:write"}
    throttle_scope: ClassVar[str | None] = "documents"
    parser_classes: list[type[BaseParser]] = [SizeLimitedMultiPartParser, *RAW_PARSERS]

    @extend_schema(
        operation_id="documents_create",
        summary="Upload a document",
        description=(
            "A CSV or Excel file of shipment notices or acknowledgements (say which in `kind`), or an X12 "
            "(856, 855) or EDIFACT (DESADV, ORDRSP) interchange, as a multipart form field `file` or as the raw "
            "body with its Content-Type (then `kind` and `filename` are query parameters). A document applies "
            "all or nothing. 201: accepted and applied. 200: an interchange (sender and control number) already "
            "accepted, kept as a duplicate, nothing changed. 422: rejected, nothing applied; the problem's "
            "`document` holds every error with where it is (segment, position, row, column). Every answer names "
            "the stored document (`id`, `url`); EDI gets its 997 or CONTRL in `replies` either way. A file that is "
            "no document at all is refused before anything is stored: 413 over the size limit; 422 with an error on "
            "`file` when it is empty, of another type (HTML, PDF, an image, a program, an archive), not UTF-8 CSV "
            "text, or its content does not match its name or Content-Type."
        ),
        request={"multipart/form-data": DocumentUploadInput, **_RAW_BODY},
        parameters=[
            OpenApiParameter("kind", str, enum=["ship_notice", "acknowledgement"], description="Raw body only."),
            OpenApiParameter("filename", str, description="Raw body only: the file's name, for your records."),
            OpenApiParameter(
                "Location", str, OpenApiParameter.HEADER, description="The document's address.", response=True
            ),
        ],
        responses={
            **problems(400, 413),
            201: OpenApiResponse(DocumentOutput, description="Accepted and applied."),
            200: OpenApiResponse(DocumentOutput, description="A duplicate interchange: nothing changed."),
            (422, PROBLEM_CONTENT_TYPE): OpenApiResponse(
                DocumentRejectedProblem, description="Rejected (with the document and its errors), or invalid fields."
            ),
        },
        tags=["documents"],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        content, filename, kind, media_type = _upload(request)
        try:
            document = document_receive(
                supplier=key_supplier(request),
                content=content,
                filename=filename,
                source="api",
                by=None,
                kind=kind,
                media_type=media_type,
            )
        except FileTooLarge as error:
            raise PayloadTooLarge(error.messages[0]) from None
        stored = selectors.api_document_get(supplier=key_supplier(request), pk=document.pk)
        body = document_json(request, stored)
        headers = {"Location": body["url"]}
        if document.status == InboundDocument.Status.ACCEPTED:
            return Response(body, status=status.HTTP_201_CREATED, headers=headers)
        if document.status == InboundDocument.Status.DUPLICATE:
            return Response(body, status=status.HTTP_200_OK, headers=headers)
        problem = problem_body(
            422,
            "The document was rejected.",
            f"Nothing in it was applied: {len(body['errors'])} problem(s), listed in document.errors.",
            type_=DOCUMENT_REJECTED,
            code="document_rejected",
            document=body,
        )
        return Response(problem, status=422, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


class DocumentDetailApi(SupplierApiView):
    # The key that uploads reads what became of its uploads; orders:read alone does not see documents.
    required_scopes: ClassVar[dict[str, str]] = {"GET": "documents:write"}

    @extend_schema(
        operation_id="documents_retrieve",
        summary="Read an uploaded document",
        description="Its status, errors, what it created and the replies we sent (997/CONTRL ids and filenames).",
        responses={200: DocumentOutput},
        tags=["documents"],
    )
    def get(self, request: Request, pk: int) -> Response:
        document = selectors.api_document_get(supplier=key_supplier(request), pk=pk)
        return Response(document_json(request, document))
