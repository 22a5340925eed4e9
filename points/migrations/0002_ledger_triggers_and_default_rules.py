from django.db import migrations

TABLES = ["points_pointsentry", "points_pointsallocation"]

DEFAULT_RULES = [
    # kind, points, points_per_yuan, extra
    ("purchase", 0, "1.00", {}),
    ("signup", 100, "0", {}),
    ("checkin", 5, "0", {"streak_bonuses": {"7": 20}, "streak_cycle_days": 7}),
    ("first_order", 50, "0", {}),
    ("profile", 20, "0", {}),
    ("inviter", 100, "0", {}),
    ("invitee", 50, "0", {}),
]


def create_defaults(apps, schema_editor):
    EarningRule = apps.get_model("points", "EarningRule")
    PointsPolicy = apps.get_model("points", "PointsPolicy")
    for kind, points, per_yuan, extra in DEFAULT_RULES:
        EarningRule.objects.get_or_create(
            kind=kind, defaults={"points": points, "points_per_yuan": per_yuan, **extra}
        )
    PointsPolicy.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("points", "0001_initial"), ("loyalty", "0002_append_only_trigger")]

    operations = [
        *[
            migrations.RunSQL(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION loyalty_refuse_change();",
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
            )
            for table in TABLES
        ],
        migrations.RunPython(create_defaults, migrations.RunPython.noop),
    ]
