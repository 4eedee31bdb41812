"""Connector credentials encrypted at rest (planning_sync/credentials.py): the field, then every stored
connector's passwords, tokens and signing secrets encrypted in place. Backwards, they are written plain."""

import json

from django.db import migrations

from planning_sync import credentials


def encrypt_all(apps, schema_editor):
    Connector = apps.get_model("planning_sync", "Connector")
    # The field decrypts (a no-op on plain values) when it loads and encrypts when it saves.
    for connector in Connector.objects.only("pk", "config").iterator():
        Connector.objects.filter(pk=connector.pk).update(config=connector.config)


def decrypt_all(apps, schema_editor):
    Connector = apps.get_model("planning_sync", "Connector")
    with schema_editor.connection.cursor() as cursor:
        for connector in Connector.objects.only("pk", "config").iterator():
            cursor.execute(
                "UPDATE planning_sync_connector SET config = %s::jsonb WHERE id = %s"
                if schema_editor.connection.vendor == "postgresql"
                else "UPDATE planning_sync_connector SET config = %s WHERE id = %s",
                [json.dumps(credentials.decrypted(connector.config)), connector.pk],
            )


class Migration(migrations.Migration):
    dependencies = [
        ("planning_sync", "0006_tryton_mappings"),
    ]

    operations = [
        migrations.AlterField(
            model_name="connector",
            name="config",
            field=credentials.ConnectorConfigField(
                blank=True, default=dict, help_text="Settings of this kind, validated on save."
            ),
        ),
        migrations.RunPython(encrypt_all, decrypt_all),
    ]
