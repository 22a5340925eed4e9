from django.db import migrations

# One trigger function for every append-only ledger table (points, stored
# value, ...): each app attaches it to its tables in its own migration.
CREATE = """
CREATE OR REPLACE FUNCTION loyalty_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %.% is not allowed: ledger rows are append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, "DROP FUNCTION IF EXISTS loyalty_refuse_change();")]
