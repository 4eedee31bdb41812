from django.db import migrations

MANAGERS_GROUP = "purchasing managers"


def create_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=MANAGERS_GROUP)


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=MANAGERS_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [("suppliers", "0003_notification_opt_out")]

    operations = [migrations.RunPython(create_group, delete_group)]
