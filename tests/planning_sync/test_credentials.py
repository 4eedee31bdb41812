"""Connector credentials are encrypted in the database and plain in Python; a SECRET_KEY rotation keeps
them readable through DJANGO_SECRET_KEY_FALLBACKS; a credential no key opens is a clear error."""

import importlib
import json
from io import StringIO
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import connection

from planning_sync import credentials, webhooks
from planning_sync.models import Connector

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
    Connector.objects.create(name="erp", kind="webhook", config=CONFIG)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-brand-new-key", []
    with pytest.raises(credentials.CredentialUndecryptable, match="DJANGO_SECRET_KEY_FALLBACKS"):
        Connector.objects.get()
    with pytest.raises(CommandError, match="encrypted under another SECRET_KEY"):
        call_command("encrypt_connector_credentials", stdout=StringIO())


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
