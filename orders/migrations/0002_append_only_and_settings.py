from django.db import migrations

TABLES = ["orders_orderevent", "orders_refund", "orders_refundline"]


def create_settings(apps, schema_editor):
    apps.get_model("orders", "CheckoutSettings").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial"), ("loyalty", "0002_append_only_trigger")]

    operations = [
        *[
            migrations.RunSQL(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION loyalty_refuse_change();",
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
            )
            for table in TABLES
        ],
        migrations.RunPython(create_settings, migrations.RunPython.noop),
    ]
