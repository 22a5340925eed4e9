from django.db import migrations

APPEND_ONLY = ["members_growthentry", "members_tierchange", "members_cardevent"]

DEFAULT_TIERS = [
    # level, name, threshold (growth), discount_bp, multiplier, free shipping
    (0, "普通会员", 0, 0, "1.00", False),
    (1, "白银会员", 1000, 200, "1.20", False),
    (2, "黄金会员", 5000, 500, "1.50", True),
    (3, "钻石会员", 20000, 1000, "2.00", True),
]


def create_defaults(apps, schema_editor):
    Tier = apps.get_model("members", "Tier")
    MembershipPolicy = apps.get_model("members", "MembershipPolicy")
    for level, name, threshold, discount, multiplier, shipping in DEFAULT_TIERS:
        Tier.objects.get_or_create(
            level=level,
            defaults={
                "name": name,
                "growth_threshold": threshold,
                "discount_bp": discount,
                "points_multiplier": multiplier,
                "free_shipping": shipping,
            },
        )
    MembershipPolicy.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("members", "0002_membership"), ("loyalty", "0002_append_only_trigger")]

    operations = [
        *[
            migrations.RunSQL(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION loyalty_refuse_change();",
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
            )
            for table in APPEND_ONLY
        ],
        migrations.RunPython(create_defaults, migrations.RunPython.noop),
    ]
