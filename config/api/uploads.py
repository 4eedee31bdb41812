"""Bodies sent to the API: parsers that refuse a body over the view's size limit with 413 before keeping it."""

from __future__ import annotations

import io
from typing import IO, Any

import orjson
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser, DataAndFiles, JSONParser, MultiPartParser

from config.uploads import SizeLimitedUpload, too_large_message


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The file is too large."
    default_code = "too_large"


def _limit(parser_context: Any) -> int:
    """The view's ``upload_limit()``: the largest body it takes (every SupplierApiView has one)."""
    return int(parser_context["view"].upload_limit())


class SizeLimitedMultiPartParser(MultiPartParser):
    """A multipart form whose file is skipped, not stored, once it passes the limit; then 413."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Any = None
    ) -> DataAndFiles[Any, Any]:
        limit = _limit(parser_context)
        handler = SizeLimitedUpload(None, limit)
        # The request's own list, read by the parser below: the limit sees each chunk first.
        parser_context["request"].upload_handlers.insert(0, handler)
        parsed: DataAndFiles[Any, Any] = super().parse(stream, media_type, parser_context)
        if handler.refused:
            raise PayloadTooLarge(too_large_message(limit))
        return parsed


class RawBodyParser(BaseParser):
    """The request body as bytes, for a file sent as the body itself; 413 past the limit, read no further."""

    noun = "file"

    def parse(  # type: ignore[override]  # request.data is the bytes themselves
        self, stream: IO[Any] | None, media_type: str | None = None, parser_context: Any = None
    ) -> bytes:
        if stream is None:
            return b""
        limit = _limit(parser_context)
        try:
            declared = int(parser_context["request"].META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise PayloadTooLarge(too_large_message(limit, self.noun))
        content: bytes = stream.read(limit + 1)
        if len(content) > limit:
            raise PayloadTooLarge(too_large_message(limit, self.noun))
        return content


class _JsonBody(RawBodyParser):
    noun = "request body"


class SizeLimitedJSONParser(JSONParser):
    """A JSON body, refused with 413 past the view's ``upload_limit()`` before more of it is read."""

    def parse(self, stream: IO[Any] | None, media_type: str | None = None, parser_context: Any = None) -> Any:
        content = _JsonBody().parse(stream, media_type, parser_context)
        return super().parse(io.BytesIO(content), media_type, parser_context)


class SizeLimitedORJSONParser(BaseParser):
    """The supplier API's JSON bodies (orjson), refused with 413 past the view's ``upload_limit()`` before more
    of the body is read: DRF reads a body whole, and Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not apply to it."""

    media_type = "application/json"

    def parse(self, stream: IO[Any] | None, media_type: str | None = None, parser_context: Any = None) -> Any:
        content = _JsonBody().parse(stream, media_type, parser_context)
        try:
            return orjson.loads(content)  # JSON is UTF-8 (RFC 8259); orjson refuses anything else
        except orjson.JSONDecodeError as error:
            raise ParseError(f"JSON parse error - {error}") from error
