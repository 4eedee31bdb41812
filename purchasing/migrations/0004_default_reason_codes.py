from django.db import migrations

REASONS = [
    ("OUT_OF_STOCK", "Out of stock", 10),
    ("DISCONTINUED", "Item discontinued", 20),
    ("CAPACITY", "No production capacity in time", 30),
    ("PRICE", "Price no longer valid", 40),
    ("MOQ", "Below minimum order quantity", 50),
    ("DUPLICATE", "Duplicate order", 60),
    ("OTHER", "Other (see note)", 100),
]


def create(apps, schema_editor):
    ReasonCode = apps.get_model("purchasing", "ReasonCode")
    for code, label, order in REASONS:
        ReasonCode.objects.get_or_create(code=code, defaults={"label": label, "sort_order": order})


class Migration(migrations.Migration):
    dependencies = [("purchasing", "0003_collaboration")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
