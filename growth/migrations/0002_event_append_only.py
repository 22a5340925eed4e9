from django.db import migrations

TABLE = "growth_groupevent"


class Migration(migrations.Migration):
    dependencies = [("growth", "0001_initial"), ("loyalty", "0002_append_only_trigger")]

    operations = [
        migrations.RunSQL(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION loyalty_refuse_change();",
            f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE};",
        )
    ]
