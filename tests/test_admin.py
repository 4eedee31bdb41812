"""Staff work every model in the admin: list, search, filters and the add form all render."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
MODELS = [m for m in admin.site._registry if m._meta.app_label in {"suppliers", "purchasing", "planning_sync"}]


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _url(model, view: str) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}")


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_model_lists_searches_and_adds(staff_client, po, model):
    model_admin = admin.site._registry[model]
    assert model_admin.search_fields, f"{model.__name__} admin needs search_fields"
    assert staff_client.get(_url(model, "changelist")).status_code == 200
    assert staff_client.get(_url(model, "changelist"), {"q": "PO"}).status_code == 200
    can_add = model_admin.has_add_permission(staff_client.get(_url(model, "changelist")).wsgi_request)
    assert staff_client.get(_url(model, "add")).status_code == (200 if can_add else 403)


@pytest.mark.parametrize("name", ["OutboxEvent", "HistoryEntry", "Acknowledgement", "AcknowledgementLine"])
def test_records_of_what_happened_are_read_only_in_the_admin(staff_client, name):
    model = next(m for m in MODELS if m.__name__ == name)
    request = staff_client.get(_url(model, "changelist")).wsgi_request
    model_admin = admin.site._registry[model]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_a_po_opens_in_the_admin_with_its_lines(staff_client, po):
    response = staff_client.get(reverse("admin:purchasing_purchaseorder_change", args=[po.pk]))
    assert response.status_code == 200
    assert b"PO line" in response.content
