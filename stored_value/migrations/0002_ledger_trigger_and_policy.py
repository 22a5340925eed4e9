from django.db import migrations

TABLE = "stored_value_storedvalueentry"


def create_policy(apps, schema_editor):
    apps.get_model("stored_value", "StoredValuePolicy").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("stored_value", "0001_initial"), ("loyalty", "0002_append_only_trigger")]

    operations = [
        migrations.RunSQL(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION loyalty_refuse_change();",
            f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE};",
        ),
        migrations.RunPython(create_policy, migrations.RunPython.noop),
    ]
