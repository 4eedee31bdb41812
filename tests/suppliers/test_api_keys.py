"""API keys: the services, the portal pages for supplier admins, the staff command and the admin."""

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from suppliers import services
from suppliers.models import ApiKey, SupplierMembership
from tests.factories import SupplierMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _create(supplier, scopes=("orders:read",), **extra):
    return services.api_key_create(
        supplier=supplier,
        name=extra.get("name", "ERP"),
        scopes=list(scopes),
        by=extra.get("by"),
        expires_at=extra.get("expires_at"),
    )


# --- services -------------------------------------------------------------------------------------------------------


def test_a_new_key_is_returned_once_and_stored_as_its_hash(supplier, supplier_user):
    api_key, secret = _create(supplier, ("orders:read", "shipments:write"), by=supplier_user)
    assert secret.startswith(api_key.prefix)
    assert api_key.prefix.startswith("sl_live_")
    assert len(api_key.prefix) == 16
    assert len(secret) > 50
    stored = ApiKey.objects.get()
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {str(value) for value in ApiKey.objects.values().get().values()}
    assert stored.scopes == ["orders:read", "shipments:write"]
    assert stored.created_by == supplier_user
    assert stored.is_usable
    assert stored.status == "active"


def test_two_keys_never_share_a_secret_or_prefix(supplier):
    (first, first_secret), (second, second_secret) = _create(supplier), _create(supplier)
    assert first_secret != second_secret
    assert first.prefix != second.prefix


@pytest.mark.parametrize("scopes", [(), ("orders:write",), ("orders:read", "admin")])
def test_unknown_or_no_scopes_are_refused(supplier, scopes):
    with pytest.raises(ValidationError):
        _create(supplier, scopes)
    assert not ApiKey.objects.exists()


def test_revoking_is_for_good_and_recorded_once(supplier, supplier_user, buyer):
    api_key, _ = _create(supplier)
    assert services.api_key_revoke(key=api_key, by=supplier_user) is True
    first_revoked_at = api_key.revoked_at
    assert services.api_key_revoke(key=api_key, by=buyer) is False
    api_key.refresh_from_db()
    assert api_key.revoked_at == first_revoked_at
    assert api_key.revoked_by == supplier_user
    assert not api_key.is_usable
    assert api_key.status == "revoked"


def test_a_key_past_its_expiry_is_not_usable(supplier):
    api_key, _ = _create(supplier, expires_at=timezone.now() - timedelta(seconds=1))
    assert not api_key.is_usable
    assert api_key.status == "expired"
    assert not ApiKey.objects.usable().exists()


# --- portal ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def viewer_client(supplier) -> Client:
    user = UserFactory.create(email="victor@example.com")
    SupplierMembershipFactory.create(user=user, supplier=supplier, role=SupplierMembership.Role.VIEWER)
    client = Client()
    client.force_login(user)
    return client


def test_an_admin_lists_the_suppliers_keys_without_secrets(alice_client, supplier, other_supplier):
    api_key, secret = _create(supplier, name="WMS")
    bolt_key, _ = _create(other_supplier, name="BOLT ERP")
    response = alice_client.get(reverse("suppliers:api-key-list"))
    assert response.status_code == 200
    page = response.content.decode()
    assert api_key.prefix in page
    assert "WMS" in page
    assert secret not in page
    assert api_key.secret_hash not in page
    assert bolt_key.prefix not in page
    assert 'href="/settings/api-keys/"' in page  # the nav link


def test_an_admin_creates_a_key_and_sees_it_once(alice_client, supplier, supplier_user):
    response = alice_client.post(
        reverse("suppliers:api-key-create"),
        {
            "supplier": supplier.pk,
            "name": "ERP connector",
            "scopes": ["orders:read", "orders:acknowledge"],
            "expires_in_days": "90",
        },
    )
    assert response.status_code == 200
    api_key = ApiKey.objects.get()
    secret = response.context["secret"]
    assert secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert api_key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert api_key.supplier == supplier
    assert api_key.created_by == supplier_user
    assert api_key.scopes == ["orders:acknowledge", "orders:read"]
    assert timedelta(days=89) < api_key.expires_at - timezone.now() <= timedelta(days=90)
    assert secret not in alice_client.get(reverse("suppliers:api-key-list")).content.decode()


def test_the_create_form_needs_a_name_and_a_scope(alice_client, supplier):
    response = alice_client.post(reverse("suppliers:api-key-create"), {"supplier": supplier.pk, "name": ""})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "scopes"}
    assert not ApiKey.objects.exists()


def test_an_admin_cannot_create_a_key_for_another_supplier(alice_client, other_supplier):
    response = alice_client.post(
        reverse("suppliers:api-key-create"),
        {"supplier": other_supplier.pk, "name": "sneaky", "scopes": ["orders:read"]},
    )
    assert response.status_code == 200
    assert "supplier" in response.context["form"].errors
    assert not ApiKey.objects.exists()


def test_revoking_asks_first_then_revokes(alice_client, supplier, supplier_user):
    api_key, _ = _create(supplier)
    url = reverse("suppliers:api-key-revoke", kwargs={"pk": api_key.pk})
    confirm = alice_client.get(url)
    assert confirm.status_code == 200
    assert b"Revoke API key" in confirm.content
    api_key.refresh_from_db()
    assert api_key.revoked_at is None
    response = alice_client.post(url)
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert api_key.revoked_by == supplier_user


def test_an_outsider_gets_404_on_another_suppliers_key(bob_client, supplier):
    api_key, _ = _create(supplier)
    url = reverse("suppliers:api-key-revoke", kwargs={"pk": api_key.pk})
    assert bob_client.get(url).status_code == 404
    assert bob_client.post(url).status_code == 404
    api_key.refresh_from_db()
    assert api_key.revoked_at is None
    assert api_key.prefix.encode() not in bob_client.get(reverse("suppliers:api-key-list")).content


@pytest.mark.parametrize("name", ["suppliers:api-key-list", "suppliers:api-key-create"])
def test_only_supplier_admins_have_the_pages(viewer_client, buyer_client, name):
    # A member whose role may not is told so (403); buyers have no supplier to act for (404).
    assert viewer_client.get(reverse(name)).status_code == 403
    assert buyer_client.get(reverse(name)).status_code == 404


def test_a_non_admin_cannot_revoke_and_has_no_nav_link(viewer_client, supplier):
    api_key, _ = _create(supplier)
    assert viewer_client.post(reverse("suppliers:api-key-revoke", kwargs={"pk": api_key.pk})).status_code == 403
    api_key.refresh_from_db()
    assert api_key.revoked_at is None
    assert b"API keys" not in viewer_client.get(reverse("suppliers:supplier-home")).content


# --- staff: command and admin ------------------------------------------------------------------------------------


def test_the_command_prints_the_key_once(supplier):
    out, err = StringIO(), StringIO()
    call_command(
        "create_api_key",
        "--supplier",
        "ACME",
        "--scopes",
        "orders:read,documents:write",
        "--name",
        "EDI bridge",
        "--expires-days",
        "30",
        stdout=out,
        stderr=err,
    )
    secret = out.getvalue().strip()
    api_key = ApiKey.objects.get()
    assert api_key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert api_key.name == "EDI bridge"
    assert api_key.scopes == ["documents:write", "orders:read"]
    assert api_key.expires_at is not None
    assert "not shown again" in err.getvalue()
    assert secret not in err.getvalue()


@pytest.mark.parametrize(
    "arguments", [["--supplier", "NOPE", "--scopes", "orders:read"], ["--supplier", "ACME", "--scopes", "everything"]]
)
def test_the_command_refuses_bad_input(supplier, arguments):
    with pytest.raises(CommandError):
        call_command("create_api_key", *arguments, stdout=StringIO(), stderr=StringIO())
    assert not ApiKey.objects.exists()


@pytest.fixture
def superuser_client() -> Client:
    client = Client()
    client.force_login(UserFactory.create(email="root@example.com", is_staff=True, is_superuser=True))
    return client


def test_the_admin_lists_keys_without_secrets_and_revokes(superuser_client, supplier):
    api_key, secret = _create(supplier)
    listing = superuser_client.get(reverse("admin:suppliers_apikey_changelist"))
    assert listing.status_code == 200
    assert api_key.prefix.encode() in listing.content
    assert api_key.secret_hash.encode() not in listing.content
    assert secret.encode() not in listing.content
    superuser_client.post(
        reverse("admin:suppliers_apikey_changelist"), {"action": "revoke", "_selected_action": [api_key.pk]}
    )
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
