from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("planning_sync", "0004_connector_supplier"),
    ]

    operations = [
        migrations.AddField(
            model_name="connector",
            name="delivery_class",
            field=models.PositiveSmallIntegerField(
                blank=True,
                choices=[(0, "Critical"), (5, "Default"), (9, "Bulk")],
                help_text="Send every delivery in this class; empty: the event's own (critical for supplier commitments).",
                null=True,
            ),
        ),
    ]
