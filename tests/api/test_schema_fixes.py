"""Regressions schemathesis found: each answer below once broke the API's own OpenAPI document (or was a 500)."""

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from suppliers.models import ApiScope
from suppliers.services import api_key_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("portal_defaults")]


@pytest.fixture
def acme(supplier) -> APIClient:
    _, secret = api_key_create(supplier=supplier, name="erp", scopes=list(ApiScope.values), by=None, expires_at=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    document: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    return document


def test_updated_since_with_an_offset_postgres_refuses_is_read_in_utc(acme, po):
    response = acme.get("/api/v1/purchase-orders/", {"updated_since": "1217-08-07T09:56:24+19:28"})
    assert response.status_code == 200, response.content
    assert [row["number"] for row in response.json()["results"]] == ["PO-100001"]


def test_updated_since_that_leaves_the_calendar_in_utc_is_a_422(acme, po):
    response = acme.get("/api/v1/purchase-orders/", {"updated_since": "0001-01-01T00:00:00+01:00"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "updated_since"


def test_a_rejected_document_without_a_kind_matches_its_schema(acme, schema):
    response = acme.post("/api/v1/documents/", b"a,b\n1,2\n", content_type="text/csv")
    assert response.status_code == 422
    document = response.json()["document"]
    assert document["kind"] == ""
    assert set(document["errors"][0]) == {"message"}
    components = schema["components"]["schemas"]
    assert components["DocumentProblemOutput"]["required"] == ["message"]
    kind = components["DocumentOutput"]["properties"]["kind"]
    assert {"$ref": "#/components/schemas/BlankEnum"} in kind["oneOf"]


def test_a_document_422_without_a_document_matches_its_schema(acme, schema):
    response = acme.post("/api/v1/documents/", {}, format="multipart")
    assert response.status_code == 422
    assert "document" not in response.json()
    assert "document" not in schema["components"]["schemas"]["DocumentRejectedProblem"]["required"]


def test_the_idempotency_key_parameter_states_its_length(acme, schema):
    operation = schema["paths"]["/api/v1/shipment-notices/"]["post"]
    (parameter,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert parameter["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}
    response = acme.post("/api/v1/shipment-notices/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 256)
    assert response.status_code == 422


def test_an_upload_may_say_kind_blank_the_default_the_schema_states(acme, schema):
    kind = schema["components"]["schemas"]["DocumentUploadInputRequest"]["properties"]["kind"]
    assert kind["default"] == ""
    assert {"$ref": "#/components/schemas/BlankEnum"} in kind["oneOf"]
    upload = SimpleUploadedFile("asn.csv", b"a,b\n1,2\n", content_type="text/csv")
    response = acme.post("/api/v1/documents/", {"file": upload, "kind": ""}, format="multipart")
    assert response.status_code == 422
    assert response.json()["type"] == "urn:supplyline:problem:document-rejected"  # read, not refused as a field
