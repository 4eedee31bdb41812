from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("purchasing", "0008_document_list_index"),
        ("suppliers", "0006_api_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="acknowledgement",
            index=models.Index(fields=["submitted_at"], name="ack_submitted_idx"),
        ),
        migrations.AddIndex(
            model_name="shipmentnotice",
            index=models.Index(fields=["ship_date"], name="asn_ship_date_idx"),
        ),
        migrations.AddIndex(
            model_name="shipmentnotice",
            index=models.Index(
                condition=models.Q(("received_at__isnull", False)), fields=["received_at"], name="asn_received_idx"
            ),
        ),
    ]
