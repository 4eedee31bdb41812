"""The API's shared machinery, through dummy views of a test-only urlconf (independent of the resources)."""

import hashlib
import itertools
import re
from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404
from django.test import Client
from django.urls import include, path
from django.utils import timezone
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import serializers
from rest_framework.response import Response

from config.api import idempotency
from config.api.deprecation import deprecated
from config.api.docs import ApiRedocView
from config.api.idempotency import idempotent
from config.api.uploads import RawBodyParser
from config.api.views import SupplierApiView, SupplierListApiView, SupplierUploadApiView
from purchasing.errors import StaleVersion
from suppliers import services
from suppliers.models import ApiKey, ApiScope, ContactFunction, IdempotencyRecord, SupplierContact

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

_runs = itertools.count(1)


class LineSerializer(serializers.Serializer[Any]):
    quantity = serializers.IntegerField(min_value=1)


class OrderInputSerializer(serializers.Serializer[Any]):
    reference = serializers.CharField()
    lines = LineSerializer(many=True)


class ApiKeyOutputSerializer(serializers.ModelSerializer[ApiKey]):
    class Meta:
        model = ApiKey
        fields = ["id", "name"]


class KeyListApi(SupplierListApiView):
    """A paginated list scoped to the key's supplier (its API keys stand in for any resource)."""

    required_scopes = {"GET": "orders:read"}
    serializer_class = ApiKeyOutputSerializer
    ordering = ("-id",)

    def get_queryset(self):
        return ApiKey.objects.filter(supplier=self.supplier)


class OrderApi(SupplierApiView):
    required_scopes = {"GET": "orders:read", "POST": "orders:acknowledge"}

    def get(self, request):
        raise Http404

    @idempotent
    def post(self, request):
        data = OrderInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response({"run": next(_runs), "reference": data.validated_data["reference"]}, status=201)


class ContactApi(SupplierApiView):
    """Writes in its own transaction, as a service does, then answers with the status asked for, or fails."""

    required_scopes = {"POST": "orders:acknowledge"}

    @idempotent
    def post(self, request):
        with transaction.atomic():
            SupplierContact.objects.create(
                supplier=self.supplier, name=request.data["name"], function=ContactFunction.SALES, email="s@example.com"
            )
        if request.data["then"] == "fail":
            raise RuntimeError("the response could not be built")
        if request.data["then"] == "unstorable":
            return Response({"name": 2**70}, status=201)  # JSON has no such integer: fails when rendered, to be stored
        return Response({"name": request.data["name"]}, status=int(request.data["then"]))


class RuleApi(SupplierApiView):
    required_scopes = {"POST": "orders:acknowledge", "PUT": "orders:acknowledge"}

    def post(self, request):
        raise DjangoValidationError({"lines.20.quantity": ["Ship at most 60."]})

    def put(self, request):
        raise StaleVersion(7)


class UploadApi(SupplierUploadApiView):
    required_scopes = {"POST": "documents:write"}

    @idempotent
    def post(self, request):
        return Response({"run": next(_runs), "name": request.data["file"].name}, status=201)


class CsvBodyParser(RawBodyParser):
    media_type = "text/csv"


class RawUploadApi(SupplierUploadApiView):
    """A file sent as the body itself: request.data is its bytes."""

    required_scopes = {"POST": "documents:write"}
    parser_classes = [CsvBodyParser]

    @idempotent
    def post(self, request):
        return Response({"run": next(_runs), "bytes": len(request.data)}, status=201)


class OldApi(SupplierApiView):
    required_scopes = {"GET": "orders:read"}

    @deprecated(date(2031, 1, 31), "https://example.com/changelog#old", since=date(2030, 7, 1))
    def get(self, request):
        return Response({"old": True})


api_patterns = [
    path("keys/", KeyListApi.as_view(), name="keys"),
    path("orders/", OrderApi.as_view(), name="orders"),
    path("rules/", RuleApi.as_view(), name="rules"),
    path("contacts/", ContactApi.as_view(), name="contacts"),
    path("uploads/", UploadApi.as_view(), name="uploads"),
    path("raw-uploads/", RawUploadApi.as_view(), name="raw-uploads"),
    path("old/", OldApi.as_view(), name="old"),
]
urlpatterns = [
    path("api/v1/", include((api_patterns, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", ApiRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]
handler404 = "config.api.errors.page_not_found"

ALL_SCOPES = list(ApiScope.values)


def _key(supplier, scopes=ALL_SCOPES, **extra) -> tuple[ApiKey, str]:
    return services.api_key_create(
        supplier=supplier, name="ERP", scopes=scopes, by=None, expires_at=extra.get("expires_at")
    )


def _client(secret: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


@pytest.fixture
def acme_key(supplier):
    return _key(supplier)


@pytest.fixture
def api(acme_key) -> Client:
    return _client(acme_key[1])


def _is_problem(response, status: int) -> Any:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["type"]
    assert body["title"]
    return body


ORDER = {"reference": "R-1", "lines": [{"quantity": 5}]}


# --- authentication -----------------------------------------------------------------------------------------


def test_a_valid_key_reads_its_own_suppliers_data_only(api, acme_key, other_supplier):
    _key(other_supplier)
    response = api.get("/api/v1/keys/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert [row["id"] for row in response.json()["results"]] == [acme_key[0].pk]


def test_an_outsiders_key_never_sees_acme(acme_key, other_supplier):
    _bolt_key, secret = _key(other_supplier)
    ids = [row["id"] for row in _client(secret).get("/api/v1/keys/").json()["results"]]
    assert acme_key[0].pk not in ids


def test_a_request_without_a_key_gets_a_401_problem(client):
    body = _is_problem(client.get("/api/v1/keys/"), 401)
    assert body["code"] == "not_authenticated"


def test_a_session_does_not_count_as_a_key(alice_client):
    response = alice_client.get("/api/v1/keys/")
    _is_problem(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "header", ["Token abc", "Bearer", "Bearer a b", "Basic YWxpY2U6eA==", "Bearer sl_live_nothing"]
)
def test_a_malformed_or_unknown_authorization_gets_a_401_problem(header, acme_key):
    body = _is_problem(Client(HTTP_AUTHORIZATION=header).get("/api/v1/keys/"), 401)
    assert body["code"] == "authentication_failed"


def test_a_revoked_key_gets_a_401_problem(api, acme_key):
    services.api_key_revoke(key=acme_key[0], by=None)
    assert "revoked" in _is_problem(api.get("/api/v1/keys/"), 401)["detail"]


def test_an_expired_key_gets_a_401_problem(supplier):
    _api_key, secret = _key(supplier, expires_at=timezone.now() + timedelta(days=1))
    assert _client(secret).get("/api/v1/keys/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=1)):
        assert "expired" in _is_problem(_client(secret).get("/api/v1/keys/"), 401)["detail"]


def test_last_used_is_written_at_most_once_a_minute(api, acme_key):
    api_key = acme_key[0]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        api.get("/api/v1/keys/")
    api_key.refresh_from_db()
    assert api_key.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        api.get("/api/v1/keys/")
    api_key.refresh_from_db()
    assert api_key.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        api.get("/api/v1/keys/")
    api_key.refresh_from_db()
    assert api_key.last_used_at == start + timedelta(seconds=61)


# --- scopes and problem details -----------------------------------------------------------------------------


def test_a_missing_scope_gets_a_403_problem_naming_it(supplier):
    _api_key, secret = _key(supplier, scopes=["orders:read"])
    body = _is_problem(_client(secret).post("/api/v1/orders/", ORDER, content_type="application/json"), 403)
    assert body["scope"] == "orders:acknowledge"
    assert "orders:acknowledge" in body["detail"]
    assert body["code"] == "missing_scope"


def test_an_object_that_is_not_there_is_a_404_problem(api):
    _is_problem(api.get("/api/v1/orders/"), 404)


def test_an_unknown_api_address_is_a_404_problem(api):
    _is_problem(api.get("/api/v1/nothing-here/"), 404)


def test_an_unsupported_method_is_a_405_problem(api):
    _is_problem(api.delete("/api/v1/orders/"), 405)


def test_an_unsupported_content_type_is_a_415_problem(api):
    _is_problem(api.post("/api/v1/orders/", "reference=x", content_type="text/plain"), 415)


def test_malformed_json_is_a_400_problem(api):
    _is_problem(api.post("/api/v1/orders/", "{not json", content_type="application/json"), 400)


def test_json_that_is_not_utf8_is_a_400_problem(api):
    body = _is_problem(
        api.post("/api/v1/orders/", '{"reference": "\xe9"}'.encode("latin-1"), content_type="application/json"), 400
    )
    assert "JSON parse error" in body["detail"]


def test_a_json_body_over_the_limit_is_a_413_problem_that_changes_nothing(api, settings):
    """DRF reads a JSON body whole and Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not apply to it: the API's
    own limit refuses it first, and the Idempotency-Key it came with is not used up."""
    settings.SUPPLYLINE_API_MAX_BODY_BYTES = 200
    big = {"reference": "R-1", "lines": [{"quantity": 5}] * 40}
    body = _is_problem(
        api.post("/api/v1/orders/", big, content_type="application/json", HTTP_IDEMPOTENCY_KEY="big-1"), 413
    )
    assert body["code"] == "too_large"
    assert body["detail"] == "The request body is larger than the limit of 200\xa0bytes."
    assert not IdempotencyRecord.objects.exists()
    retried = api.post("/api/v1/orders/", ORDER, content_type="application/json", HTTP_IDEMPOTENCY_KEY="big-1")
    assert retried.status_code == 201, retried.content


def test_a_json_body_at_the_limit_is_taken(api, settings):
    content = b'{"reference": "R-1", "lines": [{"quantity": 5}]}'
    settings.SUPPLYLINE_API_MAX_BODY_BYTES = len(content)
    assert api.post("/api/v1/orders/", content, content_type="application/json").status_code == 201
    settings.SUPPLYLINE_API_MAX_BODY_BYTES = len(content) - 1
    _is_problem(api.post("/api/v1/orders/", content, content_type="application/json"), 413)


def test_invalid_fields_are_a_422_problem_with_field_paths(api):
    body = _is_problem(
        api.post("/api/v1/orders/", {"lines": [{"quantity": 1}, {"quantity": 0}]}, content_type="application/json"),
        422,
    )
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"reference", "lines.1.quantity"}


def test_a_business_rule_violation_is_a_422_problem_with_its_field(api):
    body = _is_problem(api.post("/api/v1/rules/", {}, content_type="application/json"), 422)
    assert body["errors"] == [{"field": "lines.20.quantity", "detail": "Ship at most 60."}]


def test_a_stale_version_is_a_412_problem(api):
    body = _is_problem(api.put("/api/v1/rules/", {}, content_type="application/json"), 412)
    assert body["code"] == "stale_version"
    assert body["current_version"] == 7


# --- rate limits --------------------------------------------------------------------------------------------

RATE_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [("get", "/api/v1/keys/", 200), ("get", "/api/v1/orders/", 404), ("delete", "/api/v1/orders/", 405)],
)
def test_every_response_carries_the_rate_limit_headers(api, method, url, status):
    response = getattr(api, method)(url)
    assert response.status_code == status
    assert response["RateLimit-Limit"] == "100"
    assert int(response["RateLimit-Remaining"]) == 99


def test_error_responses_before_the_key_is_known_carry_them_too(client):
    assert all(name in client.get("/api/v1/keys/") for name in RATE_HEADERS)


def test_a_key_past_its_burst_gets_429_with_retry_after(api, settings):
    settings.SUPPLYLINE_API_RATE, settings.SUPPLYLINE_API_BURST = 1, 2
    with time_machine.travel(timezone.now(), tick=False):
        first, second, third = (api.get("/api/v1/keys/") for _ in range(3))
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first["RateLimit-Remaining"], second["RateLimit-Remaining"]) == ("1", "0")
    body = _is_problem(third, 429)
    assert body["code"] == "throttled"
    assert third["Retry-After"] == "1"
    assert third["RateLimit-Remaining"] == "0"


def test_buckets_are_per_key(api, supplier, settings):
    settings.SUPPLYLINE_API_RATE, settings.SUPPLYLINE_API_BURST = 1, 1
    with time_machine.travel(timezone.now(), tick=False):
        assert api.get("/api/v1/keys/").status_code == 200
        assert api.get("/api/v1/keys/").status_code == 429
        assert _client(_key(supplier)[1]).get("/api/v1/keys/").status_code == 200


def test_uploads_have_their_own_lower_limit(api, settings):
    settings.SUPPLYLINE_API_UPLOAD_RATE, settings.SUPPLYLINE_API_UPLOAD_BURST = 1, 1
    with time_machine.travel(timezone.now(), tick=False):
        first = api.post("/api/v1/uploads/", {"file": _upload()})
        second = api.post("/api/v1/uploads/", {"file": _upload()})
        other = api.get("/api/v1/keys/")
    assert first.status_code == 201
    assert first["RateLimit-Limit"] == "1"
    _is_problem(second, 429)
    assert other.status_code == 200


def test_without_redis_the_limit_holds_per_process(api, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.SUPPLYLINE_API_RATE, settings.SUPPLYLINE_API_BURST = 1, 1
    with time_machine.travel(timezone.now(), tick=False):
        assert api.get("/api/v1/keys/").status_code == 200
        assert api.get("/api/v1/keys/").status_code == 429


def _upload():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("asn.csv", b"po,line\nPO-1,10\n", content_type="text/csv")


# --- idempotency --------------------------------------------------------------------------------------------


def _post(client: Client, body=ORDER, key: str | None = "k-1"):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/api/v1/orders/", body, content_type="application/json", headers=headers)


def test_a_retry_with_the_same_key_replays_the_first_response(api):
    first, retry = _post(api), _post(api)
    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content
    assert retry["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert all(name in retry for name in RATE_HEADERS)


def test_the_stored_response_is_encrypted_and_one_from_before_that_still_replays(api, acme_key):
    """Some responses hold a secret shown once (a webhook's signing secret): a dump must not hold it readable."""
    first = _post(api)
    record = IdempotencyRecord.objects.get()
    stored = bytes(record.response_body)
    assert stored.startswith(idempotency.SEALED)
    assert b"R-1" not in stored
    IdempotencyRecord.objects.filter(pk=record.pk).update(response_body=first.content)  # stored plain, earlier
    retry = _post(api)
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.content == first.content


def test_a_stored_response_no_key_opens_is_a_422_problem_not_a_second_run(api, settings):
    first = _post(api)
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40  # rotated, the old key already dropped
    body = _is_problem(_post(api), 422)
    assert body["code"] == "idempotency_response_unreadable"
    assert body["type"] == "urn:supplyline:problem:idempotency-response-unreadable"
    assert first.json()["run"] == _post(api, key="a-new-key").json()["run"] - 1  # it ran once, then the new key


def test_the_same_body_with_other_spacing_still_replays(api):
    first = _post(api)
    retry = api.post(
        "/api/v1/orders/",
        '{ "lines": [ {"quantity": 5} ],  "reference": "R-1" }',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert retry.content == first.content
    assert retry["Idempotent-Replayed"] == "true"


def test_the_same_key_with_another_body_is_a_422_problem(api):
    _post(api)
    body = _is_problem(_post(api, {**ORDER, "reference": "R-2"}), 422)
    assert body["code"] == "idempotency_key_reused"


def test_a_key_still_in_progress_is_a_409_problem(api, acme_key):
    IdempotencyRecord.objects.create(
        api_key=acme_key[0], key="k-1", fingerprint="0" * 64, expires_at=timezone.now() + timedelta(hours=24)
    )
    assert _is_problem(_post(api), 409)["code"] == "idempotency_key_in_progress"


def test_a_claim_abandoned_by_a_dead_process_is_taken_over(api, acme_key):
    IdempotencyRecord.objects.create(
        api_key=acme_key[0],
        key="k-1",
        fingerprint="0" * 64,
        created_at=timezone.now() - timedelta(minutes=10),
        expires_at=timezone.now() + timedelta(hours=23),
    )
    assert _post(api).status_code == 201
    assert IdempotencyRecord.objects.get().state == IdempotencyRecord.State.DONE


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_taken_or_expired_key_is_settled_in_autocommit(supplier):
    """As in production: the claim is a lone INSERT, and its conflict leaves the connection usable."""
    api = _client(_key(supplier)[1])
    first, retry = _post(api), _post(api)
    assert retry["Idempotent-Replayed"] == "true"
    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        later = _post(api)
    assert "Idempotent-Replayed" not in later
    assert later.json()["run"] != first.json()["run"]
    assert IdempotencyRecord.objects.get().state == IdempotencyRecord.State.DONE


def test_keys_are_scoped_to_the_api_key(api, supplier):
    first = _post(api)
    other = _post(_client(_key(supplier)[1]))
    assert other.status_code == 201
    assert "Idempotent-Replayed" not in other
    assert other.json()["run"] != first.json()["run"]


def test_a_key_expires_after_24_hours(api):
    first = _post(api)
    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        later = _post(api)
    assert "Idempotent-Replayed" not in later
    assert later.json()["run"] != first.json()["run"]
    assert IdempotencyRecord.objects.count() == 1


def test_a_request_that_fails_releases_its_key(api):
    _is_problem(_post(api, {"reference": "R-1"}), 422)
    assert not IdempotencyRecord.objects.exists()
    assert _post(api).status_code == 201


def _contact(client: Client, then: str, key: str = "c-1"):
    body = {"name": "Sam", "then": then}
    return client.post("/api/v1/contacts/", body, content_type="application/json", headers={"Idempotency-Key": key})


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("then", ["fail", "503"])
def test_a_request_that_fails_after_its_change_undoes_the_change_and_releases_its_key(supplier, then):
    """As in production (autocommit): the change committed by the view's own transaction is undone with the
    failure, so the retry that the released key invites acts once, not twice."""
    api = _client(_key(supplier)[1])
    api.raise_request_exception = False
    assert _contact(api, then).status_code == (500 if then == "fail" else 503)
    assert not SupplierContact.objects.exists()
    assert not IdempotencyRecord.objects.exists()
    retry = _contact(api, "201")
    assert retry.status_code == 201
    assert SupplierContact.objects.count() == 1
    assert IdempotencyRecord.objects.get().state == IdempotencyRecord.State.DONE


@pytest.mark.django_db(transaction=True)
def test_the_stored_response_and_the_change_commit_together(supplier):
    """The claim commits on its own (a concurrent retry must see it: 409); the change and the stored response
    then commit in one transaction: a response that cannot be stored takes its change with it, and a
    replay finds the change it reports."""
    api = _client(_key(supplier)[1])
    api.raise_request_exception = False
    assert _contact(api, "unstorable", key="c-0").status_code == 500
    assert not SupplierContact.objects.exists()
    assert not IdempotencyRecord.objects.exists()
    first, replay = _contact(api, "201"), _contact(api, "201")
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    assert SupplierContact.objects.count() == 1


def test_a_post_without_the_header_just_runs(api):
    first, second = _post(api, key=None), _post(api, key=None)
    assert second.json()["run"] == first.json()["run"] + 1
    assert not IdempotencyRecord.objects.exists()


def test_an_overlong_idempotency_key_is_a_422_problem(api):
    body = _is_problem(_post(api, key="x" * 256), 422)
    assert body["errors"][0]["field"] == "Idempotency-Key"


def test_a_multipart_retry_with_another_boundary_replays(api):
    from django.test.client import encode_multipart

    def send(boundary: str):
        return api.post(
            "/api/v1/uploads/",
            encode_multipart(boundary, {"file": _upload()}),
            content_type=f"multipart/form-data; boundary={boundary}",
            HTTP_IDEMPOTENCY_KEY="upload-1",
        )

    first, retry = send("boundary-one"), send("boundary-two")
    assert first.status_code == retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.content == first.content


def test_a_raw_body_retry_replays_and_another_body_is_refused(api):
    def send(body: bytes):
        return api.post("/api/v1/raw-uploads/", body, content_type="text/csv", HTTP_IDEMPOTENCY_KEY="raw-1")

    first, retry = send(b"po,line\nPO-1,10\n"), send(b"po,line\nPO-1,10\n")
    assert first.status_code == retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.content == first.content
    assert _is_problem(send(b"po,line\nPO-2,10\n"), 422)["code"] == "idempotency_key_reused"


def test_the_prune_task_deletes_expired_records(acme_key):
    from suppliers.tasks import prune_idempotency_records

    now = timezone.now()
    for key, expires in (("old", now - timedelta(seconds=1)), ("new", now + timedelta(hours=1))):
        IdempotencyRecord.objects.create(api_key=acme_key[0], key=key, fingerprint="f", expires_at=expires)
    assert prune_idempotency_records() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


# --- pagination ---------------------------------------------------------------------------------------------


def test_lists_page_by_cursor(api, acme_key, supplier):
    ids = sorted([_key(supplier)[0].pk for _ in range(2)] + [acme_key[0].pk], reverse=True)
    page = api.get("/api/v1/keys/?limit=2").json()
    assert [row["id"] for row in page["results"]] == ids[:2]
    assert page["previous"] is None
    assert page["next"].startswith("http://testserver/api/v1/keys/?")
    last = api.get(page["next"]).json()
    assert [row["id"] for row in last["results"]] == ids[2:]
    assert last["next"] is None
    back = api.get(last["previous"]).json()
    assert [row["id"] for row in back["results"]] == ids[:2]


@pytest.mark.parametrize(("query", "field"), [("limit=0", "limit"), ("limit=201", "limit"), ("after=zzz", "after")])
def test_a_bad_page_request_is_a_422_problem(api, query, field):
    body = _is_problem(api.get(f"/api/v1/keys/?{query}"), 422)
    assert body["errors"][0]["field"] == field


# --- deprecation --------------------------------------------------------------------------------------------


def test_a_deprecated_operation_announces_its_sunset(api):
    response = api.get("/api/v1/old/")
    assert response.status_code == 200
    assert response["Deprecation"] == "@1909094400"
    assert response["Sunset"] == "Fri, 31 Jan 2031 00:00:00 GMT"
    assert response["Link"] == '<https://example.com/changelog#old>; rel="deprecation"; type="text/html"'


# --- OpenAPI and docs ---------------------------------------------------------------------------------------


@pytest.fixture
def schema(client) -> Any:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_openapi_3_1_with_the_bearer_scheme(schema):
    assert schema["openapi"] == "3.1.0"
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["apiKey"]["description"],
    }
    assert schema["paths"]["/api/v1/keys/"]["get"]["security"] == [{"apiKey": []}]


def test_every_operation_documents_its_problems(schema):
    post = schema["paths"]["/api/v1/orders/"]["post"]
    for status in ("401", "403", "409", "413", "415", "422", "429"):
        content = post["responses"][status]["content"]
        assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "Retry-After" in post["responses"]["429"]["headers"]
    assert "RateLimit-Remaining" in schema["paths"]["/api/v1/keys/"]["get"]["responses"]["200"]["headers"]
    assert {"Problem", "FieldError"} <= set(schema["components"]["schemas"])


def test_idempotent_posts_document_the_header(schema):
    parameters = schema["paths"]["/api/v1/orders/"]["post"]["parameters"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in parameters)
    assert not any(
        p["name"] == "Idempotency-Key" for p in schema["paths"]["/api/v1/rules/"]["post"].get("parameters", [])
    )


def test_lists_document_the_cursor_parameters(schema):
    operation = schema["paths"]["/api/v1/keys/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"after", "before", "limit"}
    page = schema["components"]["schemas"]["PaginatedApiKeyOutputList"]
    assert set(page["properties"]) == {"results", "next", "previous"}


def test_deprecated_operations_are_marked_in_the_schema(schema):
    assert schema["paths"]["/api/v1/old/"]["get"]["deprecated"] is True


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_docs_load_nothing_from_other_hosts(client, url):
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "cdn" not in page.lower()
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    assert "/static/drf_spectacular_sidecar/" in page


def test_a_key_is_stored_only_as_its_hash(acme_key):
    api_key, secret = acme_key
    assert api_key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
