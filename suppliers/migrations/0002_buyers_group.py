from django.db import migrations

BUYERS_GROUP = "buyers"


def create_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=BUYERS_GROUP)


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=BUYERS_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [("suppliers", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create_group, delete_group)]
