"""The configuration version that loyalty.config's per-process caches check (see its docstring)."""

from django.db import migrations

CACHED_TABLES = [
    "orders_checkoutsettings",
    "points_pointspolicy",
    "points_earningrule",
    "members_membershippolicy",
    "members_tier",
    "members_memberday",
    "members_cardtype",
    "stored_value_storedvaluepolicy",
]

FUNCTION = """
CREATE SEQUENCE loyalty_config_version_seq;
CREATE TABLE loyalty_config_version (
    id smallint PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO loyalty_config_version VALUES (1, nextval('loyalty_config_version_seq'));
-- An upsert, so the row comes back if something (a test flush) truncated it.
CREATE FUNCTION loyalty_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO loyalty_config_version VALUES (1, nextval('loyalty_config_version_seq'))
    ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version;
    RETURN NULL;
END $$;
"""


def trigger_sql(table: str) -> str:
    return (
        f"CREATE TRIGGER loyalty_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION loyalty_config_changed();"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0005_membership_mall_orders_roles"),
        ("orders", "0002_append_only_and_settings"),
        ("points", "0004_merge_0003_lean_entry_indexes_0003_phone_reward"),
        ("members", "0007_alter_memberday_audience_and_more"),
        ("stored_value", "0003_rechargeplan_gift_pack"),
    ]

    operations = [
        migrations.RunSQL(
            FUNCTION + "".join(trigger_sql(t) for t in CACHED_TABLES),
            reverse_sql="".join(f"DROP TRIGGER loyalty_config_changed ON {t};" for t in CACHED_TABLES)
            + "DROP FUNCTION loyalty_config_changed(); DROP TABLE loyalty_config_version;"
            " DROP SEQUENCE loyalty_config_version_seq;",
        ),
    ]
