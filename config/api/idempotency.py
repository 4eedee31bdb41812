"""``Idempotency-Key`` on POST, with Stripe's semantics (docs/api.md).

The first request with a key claims it by inserting a row (the unique constraint on
(api key, key) settles a race: the second insert waits for the first to commit, then
conflicts), runs, and stores its response in the transaction of the change it made, so the two
commit together or not at all (a 5xx answer rolls its change back). Within 24 hours the same key with the same
request replays that response with ``Idempotent-Replayed: true``; with a different
request it is refused (422); while the first still runs, 409. A request that fails with
an error releases the key so the client can retry. POSTs without the header just run.

Stored response bodies are encrypted (config/crypto.py): some hold a secret shown once, such as a webhook's
signing secret, and a database dump must not hold it readable.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
from django.db import IntegrityError, transaction
from django.http import HttpResponse, HttpResponseBase, QueryDict
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config import crypto
from config.api.errors import IDEMPOTENCY_IN_PROGRESS, IDEMPOTENCY_MISMATCH, IDEMPOTENCY_UNREADABLE, problem_response
from suppliers.models import ApiKey, IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
RETENTION = timedelta(hours=24)
# A claim older than this belongs to a request whose process died: the next request may take it over.
ABANDONED_AFTER = timedelta(minutes=5)
# Response headers worth replaying; the rate-limit headers are always the current ones.
REPLAYED_HEADERS = ("Content-Type", "Location", "ETag", "Last-Modified")
# A stored body starts with this when encrypted (a JSON or empty body never does: one stored before
# bodies were encrypted is replayed as it is).
SEALED = b"enc:v1:"
_PURPOSE = b"supplyline.idempotent-responses.v1"

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Up to 255 characters, unique per operation (a UUID is good). Retrying with the same key and body "
        "within 24 hours returns the first response with `Idempotent-Replayed: true` instead of acting twice. "
        "Without it the request simply runs."
    ),
)

type PostMethod = Callable[..., HttpResponseBase]


def _canonical_body(request: Request) -> bytes:
    """The body as data, so a retry with other JSON spacing or another multipart boundary still matches."""
    data = request.data
    if isinstance(data, bytes):  # a raw upload (RawBodyParser): the bytes are the body
        return data
    if isinstance(data, QueryDict):
        fields: dict[str, list[str]] = {}
        for name in sorted(data):
            values = data.getlist(name)
            fields[name] = [_file_digest(value) if hasattr(value, "chunks") else str(value) for value in values]
        return orjson.dumps(fields)
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)


def _file_digest(upload: Any) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return f"file:{upload.name}:{digest.hexdigest()}"


def fingerprint(request: Request) -> str:
    digest = hashlib.sha256(f"{request.method} {request.get_full_path()}\n".encode())
    digest.update(_canonical_body(request))
    return digest.hexdigest()


def _claim(api_key: ApiKey, key: str, print_: str) -> IdempotencyRecord | None:
    """Insert the in-progress record; None when the key is already taken."""
    now = timezone.now()
    record = IdempotencyRecord(api_key=api_key, key=key, fingerprint=print_, created_at=now, expires_at=now + RETENTION)
    if _inserted(record):
        return record
    # Taken. By an expired record? Drop it and claim again (keys are nearly always new: this is rarely run).
    if IdempotencyRecord.objects.filter(api_key=api_key, key=key, expires_at__lte=now).delete()[0]:
        return record if _inserted(record) else None
    return None


def _inserted(record: IdempotencyRecord) -> bool:
    """Insert the record; False when its key is taken. A request runs in autocommit, where the INSERT commits
    on its own: no BEGIN and COMMIT round trips around it. Inside a caller's transaction a savepoint keeps a
    conflict from aborting that transaction."""
    guard = transaction.atomic() if transaction.get_connection().in_atomic_block else contextlib.nullcontext()
    try:
        with guard:
            record.save(force_insert=True)
    except IntegrityError:
        return False
    return True


def _take_over(record: IdempotencyRecord) -> bool:
    now = timezone.now()
    taken = IdempotencyRecord.objects.filter(
        pk=record.pk, state=IdempotencyRecord.State.IN_PROGRESS, created_at=record.created_at
    ).update(created_at=now)
    record.created_at = now
    return taken == 1


def _sealed(body: bytes) -> bytes:
    return SEALED + crypto.cipher(_PURPOSE).encrypt(body)


def _opened(stored: bytes) -> bytes | None:
    """The stored body, or None when no key opens it any more (SECRET_KEY rotated, the old one dropped)."""
    if not stored.startswith(SEALED):
        return stored
    try:
        return crypto.cipher(_PURPOSE).decrypt(stored.removeprefix(SEALED))
    except crypto.InvalidToken:
        return None


def _replay(record: IdempotencyRecord) -> HttpResponse:
    body = _opened(bytes(record.response_body))
    if body is None:
        return problem_response(
            422,
            "The stored response of this Idempotency-Key can no longer be read.",
            "The server's secret key changed since the first request. It did run: read the resource to see its "
            "result, and send a new Idempotency-Key for a new request.",
            type_=IDEMPOTENCY_UNREADABLE,
            code="idempotency_response_unreadable",
        )
    response = HttpResponse(body, status=record.response_status or 200)
    for name, value in record.response_headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def _store(view: APIView, request: Request, record: IdempotencyRecord, response: HttpResponseBase) -> None:
    if isinstance(response, Response) and not response.is_rendered:
        response.accepted_renderer = request.accepted_renderer
        response.accepted_media_type = request.accepted_media_type
        response.renderer_context = view.get_renderer_context()  # type: ignore[attr-defined]
        response.render()
    record.state = IdempotencyRecord.State.DONE
    record.response_status = response.status_code
    record.response_headers = {name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)}
    record.response_body = _sealed(getattr(response, "content", b""))
    record.save(update_fields=["state", "response_status", "response_headers", "response_body"])


def _existing(api_key: ApiKey, key: str, print_: str) -> HttpResponseBase | IdempotencyRecord:
    record = IdempotencyRecord.objects.filter(api_key=api_key, key=key).first()
    if record is None:  # released by its failing request meanwhile
        return _claim(api_key, key, print_) or _in_progress()
    if record.state == IdempotencyRecord.State.IN_PROGRESS:
        if timezone.now() - record.created_at > ABANDONED_AFTER and _take_over(record):
            record.fingerprint = print_
            record.save(update_fields=["fingerprint"])
            return record
        return _in_progress()
    if record.fingerprint != print_:
        return problem_response(
            422,
            "This Idempotency-Key was used for a different request.",
            "Use a new Idempotency-Key for a new request; reuse one only to retry the same request.",
            type_=IDEMPOTENCY_MISMATCH,
            code="idempotency_key_reused",
        )
    return _replay(record)


def _in_progress() -> Response:
    return problem_response(
        409,
        "A request with this Idempotency-Key is still in progress.",
        "Wait for the first request to finish, then retry to get its response.",
        type_=IDEMPOTENCY_IN_PROGRESS,
        code="idempotency_key_in_progress",
    )


def idempotent(post: PostMethod) -> PostMethod:
    """Decorate a SupplierApiView's ``post(self, request, *args, **kwargs)``."""

    @functools.wraps(post)
    def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        key = request.headers.get(HEADER)
        if key is None:
            return post(view, request, *args, **kwargs)
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise ValidationError({HEADER: [f"Give 1 to {MAX_KEY_LENGTH} characters."]})
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            raise TypeError("@idempotent needs a view authenticated by ApiKeyAuthentication.")
        print_ = fingerprint(request)
        claimed = _claim(api_key, key, print_) or _existing(api_key, key, print_)
        if not isinstance(claimed, IdempotencyRecord):
            return claimed
        try:
            # The change and the response that reports it commit together: a process that dies between
            # the two can leave neither a change without its stored response (a retry would then act
            # twice) nor a stored response without its change. A 5xx answer undoes what the request wrote.
            with transaction.atomic():
                response = post(view, request, *args, **kwargs)
                if response.status_code >= 500:
                    transaction.set_rollback(True)
                else:
                    _store(view, request, claimed, response)
        except BaseException:
            claimed.delete()
            raise
        if response.status_code >= 500:
            claimed.delete()
        return response

    wrapper.idempotent = True  # type: ignore[attr-defined]  # read by ApiAutoSchema
    return wrapper
