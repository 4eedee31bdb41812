"""The exception rules' internal connector: subscribed to every event, so the rules see each change."""

from django.db import migrations

NAME = "exception-rules"


def create(apps, schema_editor):
    Connector = apps.get_model("planning_sync", "Connector")
    Subscription = apps.get_model("planning_sync", "Subscription")
    connector, _ = Connector.objects.get_or_create(
        name=NAME,
        defaults={
            "kind": "exceptions",
            "description": "Built in: raises and clears the buyers' exception cases and computes supply risk.",
            # In process, no network: a high rate limit, and as many attempts as any connector.
            "rate_per_s": 1000.0,
            "burst": 2000,
            "timeout_s": 30.0,
            # The rules must never hold up the ERP's critical deliveries: they run in the default class.
            "delivery_class": 5,
        },
    )
    Subscription.objects.get_or_create(connector=connector, event_type="supplyline.*")


def remove(apps, schema_editor):
    Connector = apps.get_model("planning_sync", "Connector")
    Delivery = apps.get_model("planning_sync", "Delivery")
    Delivery.objects.filter(connector__name=NAME).delete()
    Connector.objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("exceptions", "0001_cases"),
        ("planning_sync", "0005_connector_delivery_class"),
    ]

    operations = [migrations.RunPython(create, remove)]
