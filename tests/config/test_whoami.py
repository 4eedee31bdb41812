"""GET /api/v1/whoami/: any valid key learns its supplier and itself; no key, 401."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from suppliers.services import api_key_create

pytestmark = pytest.mark.django_db


def test_a_key_learns_its_supplier_and_itself(client, supplier):
    expires = timezone.now() + timedelta(days=30)
    api_key, secret = api_key_create(
        supplier=supplier, name="ERP connector", scopes=["orders:read"], by=None, expires_at=expires
    )
    response = client.get(reverse("api:whoami"), headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    body = response.json()
    assert body["supplier"] == "ACME"
    assert body["key"]["name"] == "ERP connector"
    assert body["key"]["prefix"] == api_key.prefix
    assert body["key"]["scopes"] == ["orders:read"]
    assert body["key"]["expires_at"] is not None
    assert "RateLimit-Remaining" in response
    assert secret not in response.content.decode()


def test_no_scope_is_needed(client, supplier):
    # A key with a scope unrelated to orders still may ask who it is.
    _, secret = api_key_create(supplier=supplier, name="hooks", scopes=["webhooks:manage"], by=None, expires_at=None)
    response = client.get(reverse("api:whoami"), headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    assert response.json()["key"]["expires_at"] is None


def test_without_a_key_401(client):
    response = client.get(reverse("api:whoami"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response["Content-Type"] == "application/problem+json"


def test_a_revoked_key_401(client, supplier):
    api_key, secret = api_key_create(supplier=supplier, name="old", scopes=["orders:read"], by=None, expires_at=None)
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    response = client.get(reverse("api:whoami"), headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401


def test_a_session_is_not_a_key(client, supplier_user):
    client.force_login(supplier_user)
    assert client.get(reverse("api:whoami")).status_code == 401


def test_another_suppliers_key_sees_its_own_supplier(client, supplier, other_supplier):
    api_key_create(supplier=supplier, name="acme", scopes=["orders:read"], by=None, expires_at=None)
    _, secret = api_key_create(supplier=other_supplier, name="bolt", scopes=["orders:read"], by=None, expires_at=None)
    response = client.get(reverse("api:whoami"), headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    assert response.json()["supplier"] == "BOLT"
    assert response.json()["key"]["name"] == "bolt"
    assert b"ACME" not in response.content


def test_the_schema_documents_it(client):
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/whoami/"]["get"]
    assert operation["operationId"] == "whoami_retrieve"
    assert operation["security"] == [{"apiKey": []}]
