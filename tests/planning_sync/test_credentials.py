"""Connector credentials are encrypted in the database and plain in Python; a SECRET_KEY rotation keeps
them readable through DJANGO_SECRET_KEY_FALLBACKS; a credential no key opens is a clear error."""

import html
import importlib
import json
from io import StringIO
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from planning_sync import credentials, delivery, webhooks
from planning_sync.connectors.base import connector_for
from planning_sync.models import Connector, Delivery, Subscription
from planning_sync.outbox import record_event
from suppliers.models import User
from tests.factories import PurchaseOrderFactory, UserFactory

pytestmark = pytest.mark.django_db
migration = importlib.import_module("planning_sync.migrations.0007_connector_credentials_encrypted")

CONFIG = {
    "url": "https://erp.example/hooks",
    "auth": {"type": "basic", "username": "supplyline", "password": "s3cret-basic", "token": "s3cret-token"},
    "password": "s3cret-tryton",
    "pull_feeds": ["receipts"],
}
SECRETS = ("s3cret-basic", "s3cret-token", "s3cret-tryton")


def _stored(connector: Connector) -> dict[str, Any]:
    """The config as the database holds it, past the field."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT config::text FROM planning_sync_connector WHERE id = %s", [connector.pk])
        stored: dict[str, Any] = json.loads(cursor.fetchone()[0])
    return stored


def test_credentials_are_encrypted_in_the_database_and_plain_in_python():
    connector = Connector.objects.create(name="erp", kind="webhook", config=CONFIG)
    stored = _stored(connector)
    assert not any(secret in json.dumps(stored) for secret in SECRETS)
    assert stored["auth"]["password"].startswith("enc:v1:")
    assert stored["password"].startswith("enc:v1:")
    # What is not a credential stays plain, and queryable.
    assert (stored["url"], stored["auth"]["username"], stored["pull_feeds"]) == (
        "https://erp.example/hooks",
        "supplyline",
        ["receipts"],
    )
    assert Connector.objects.filter(config__has_key="pull_feeds").get() == connector
    assert Connector.objects.get().config == CONFIG
    assert Connector.objects.values_list("config", flat=True).get() == CONFIG


def test_each_save_encrypts_anew_and_an_update_does_too():
    connector = Connector.objects.create(name="erp", kind="webhook", config=CONFIG)
    first = _stored(connector)["password"]
    connector.save()
    assert _stored(connector)["password"] != first  # Fernet tokens carry a random IV
    Connector.objects.filter(pk=connector.pk).update(config={**CONFIG, "password": "changed"})
    assert "changed" not in json.dumps(_stored(connector))
    assert Connector.objects.get().config["password"] == "changed"


def test_a_password_that_looks_encrypted_is_encrypted_too():
    """A plain credential is always encrypted: one starting with the stored form's prefix is no exception."""
    lookalike = "enc:v1:my-actual-password"
    connector = Connector.objects.create(name="erp", kind="webhook", config={**CONFIG, "password": lookalike})
    assert lookalike not in json.dumps(_stored(connector))
    assert Connector.objects.get().config["password"] == lookalike


def test_a_supplier_webhook_signing_secret_is_never_stored_plain(supplier):
    connector, secret = webhooks.webhook_register(
        supplier=supplier, url="https://acme.example/hooks", event_types=["supplyline.po.issued.v1"]
    )
    assert secret not in json.dumps(_stored(connector))
    assert Connector.objects.get(pk=connector.pk).config["auth"]["secret"] == secret


def test_after_a_key_rotation_the_fallback_still_opens_them_until_they_are_encrypted_again(settings):
    old_key = settings.SECRET_KEY
    connector = Connector.objects.create(name="erp", kind="webhook", config=CONFIG)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-brand-new-key", [old_key]
    assert Connector.objects.get().config == CONFIG
    out = StringIO()
    call_command("encrypt_connector_credentials", stdout=out)
    assert "Encrypted the credentials of 1 connector." in out.getvalue()
    settings.SECRET_KEY_FALLBACKS = []
    assert Connector.objects.get(pk=connector.pk).config == CONFIG


def test_a_credential_no_key_opens_is_a_clear_error_not_a_blank_one(settings):
    """It loads (the admin, the monitor and the engine's batches keep working), but the connector that would
    use it refuses to, naming the setting; the command re-encrypts the rest, says which it could not, and
    leaves those as they were, for the key that opens them."""
    Connector.objects.create(name="erp", kind="webhook", config=CONFIG)
    other = Connector.objects.create(name="planning", kind="webhook", config={"url": "https://p.example"})
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-brand-new-key", []
    erp = Connector.objects.get(name="erp")
    assert credentials.unreadable_paths(erp.config) == ["auth.token", "auth.password", "password"]
    with pytest.raises(credentials.CredentialUndecryptable, match="DJANGO_SECRET_KEY_FALLBACKS"):
        connector_for(erp)
    assert connector_for(Connector.objects.get(pk=other.pk)).config["url"] == "https://p.example"
    with pytest.raises(CommandError, match="encrypted under another SECRET_KEY") as error:
        call_command("encrypt_connector_credentials", stdout=StringIO())
    assert "erp (auth.token, auth.password, password)" in str(error.value)
    settings.SECRET_KEY_FALLBACKS = [old_key]  # the old key back: nothing was lost
    assert Connector.objects.get(name="erp").config == CONFIG


def test_the_engine_fails_only_the_connector_whose_credential_no_key_opens(settings, supplier):
    """One connector's unreadable credential neither stops the others' deliveries nor is sent blank: its own
    deliveries fail, with the setting to fix in their last error, and are retried."""
    bad = Connector.objects.create(name="erp", kind="webhook", config=CONFIG)
    Subscription.objects.create(connector=bad, event_type="supplyline.po.*")
    good = Connector.objects.create(name="rules", kind="exceptions", config={})  # in process: no receiver needed
    Subscription.objects.create(connector=good, event_type="supplyline.po.*")
    po = PurchaseOrderFactory.create(supplier=supplier)
    with transaction.atomic():
        record_event("po.issued", subject=po, data={"po_number": po.number})
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-brand-new-key", []
    delivery.dispatch(priority=None, budget_s=5)
    failed = Delivery.objects.get(connector=bad)
    assert failed.status == Delivery.Status.FAILED
    assert "auth.token" in failed.last_error
    assert "DJANGO_SECRET_KEY_FALLBACKS" in failed.last_error
    assert Delivery.objects.get(connector=good).status == Delivery.Status.DELIVERED


def test_the_migration_encrypts_what_was_stored_plain_and_writes_it_plain_backwards():
    connector = Connector.objects.create(name="erp", kind="webhook", config={})
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE planning_sync_connector SET config = %s::jsonb WHERE id = %s", [json.dumps(CONFIG), connector.pk]
        )
    assert Connector.objects.get().config == CONFIG  # a plain value loads as it is
    schema_editor = connection.schema_editor()
    migration.encrypt_all(django_apps, schema_editor)
    assert not any(secret in json.dumps(_stored(connector)) for secret in SECRETS)
    assert Connector.objects.get().config == CONFIG
    migration.decrypt_all(django_apps, schema_editor)
    assert _stored(connector) == CONFIG


# --- the admin shows that a credential is stored, never the credential ----------------------------------------


@pytest.fixture
def staff(db) -> Client:
    client = Client()
    client.force_login(UserFactory.create(email="root@example.com", is_staff=True, is_superuser=True))
    return client


def _change_form(connector: Connector, config: dict[str, Any]) -> dict[str, str]:
    return {
        "name": connector.name,
        "kind": "webhook",
        "description": "",
        "is_enabled": "on",
        "config": json.dumps(config),
        "timeout_s": "5",
        "rate_per_s": "50",
        "burst": "100",
        "max_attempts": "12",
        "pull_cursor": "",
        "subscriptions-TOTAL_FORMS": "0",
        "subscriptions-INITIAL_FORMS": "0",
    }


BASIC = {"url": "https://erp.example/hooks", "auth": {"type": "basic", "username": "supplyline", "password": "s3cret"}}


def test_the_admin_page_shows_a_mask_not_the_credential(staff):
    connector = Connector.objects.create(name="erp", kind="webhook", config=BASIC)
    page = staff.get(reverse("admin:planning_sync_connector_change", args=[connector.pk])).content.decode()
    assert "s3cret" not in page
    assert html.escape(json.dumps(credentials.MASK)[1:-1]) in page
    assert f'show as "{html.escape(credentials.MASK)}"' in page  # the help text names it, escaped to show
    assert "supplyline" in page  # what is not a credential is shown as it is


def test_the_mask_sent_back_keeps_the_credential_and_a_new_value_replaces_it(staff):
    connector = Connector.objects.create(name="erp", kind="webhook", config=BASIC)
    url = reverse("admin:planning_sync_connector_change", args=[connector.pk])
    shown = credentials.masked(BASIC) | {"url": "https://erp.example/v2"}
    assert staff.post(url, _change_form(connector, shown)).status_code == 302
    connector.refresh_from_db()
    assert connector.config["auth"]["password"] == "s3cret"
    assert connector.config["url"] == "https://erp.example/v2"

    replaced = {**shown, "auth": {**shown["auth"], "password": "n3w"}}
    assert staff.post(url, _change_form(connector, replaced)).status_code == 302
    connector.refresh_from_db()
    assert connector.config["auth"]["password"] == "n3w"


def test_a_mask_with_no_stored_credential_behind_it_is_refused(staff):
    connector = Connector.objects.create(name="erp", kind="webhook", config={"url": "https://erp.example/hooks"})
    url = reverse("admin:planning_sync_connector_change", args=[connector.pk])
    sent = {**BASIC, "auth": {**BASIC["auth"], "password": credentials.MASK}}
    response = staff.post(url, _change_form(connector, sent))
    assert response.status_code == 200
    assert "auth.password: " in response.content.decode()
    assert "none is stored here: type it." in response.content.decode()
    connector.refresh_from_db()
    assert connector.config == {"url": "https://erp.example/hooks"}


def test_the_admin_asks_again_for_a_credential_no_key_opens(staff, settings):
    connector = Connector.objects.create(name="erp", kind="webhook", config=BASIC)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-brand-new-key", []
    staff.force_login(User.objects.get(email="root@example.com"))  # the session was signed with the old key
    assert staff.get(reverse("admin:planning_sync_connector_changelist")).status_code == 200
    url = reverse("admin:planning_sync_connector_change", args=[connector.pk])
    page = staff.get(url).content.decode()
    assert html.escape(credentials.UNREADABLE_MASK) in page
    shown = {**BASIC, "auth": {**BASIC["auth"], "password": credentials.UNREADABLE_MASK}}
    refused = staff.post(url, _change_form(connector, shown))
    assert refused.status_code == 200
    assert "auth.password: the stored secret can no longer be read (SECRET_KEY changed): type it again." in (
        refused.content.decode()
    )
    retyped = {**BASIC, "auth": {**BASIC["auth"], "password": "n3w"}}
    assert staff.post(url, _change_form(connector, retyped)).status_code == 302
    assert Connector.objects.get().config["auth"]["password"] == "n3w"
