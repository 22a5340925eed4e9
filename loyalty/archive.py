"""Archiving an append-only ledger: the database side, written once for every ledger (docs/scaling.md).

Old, settled entries move from a ledger's live table to an ``*archive`` table with the same columns
and ids (``points.ledger.points_archive`` chooses and moves them, in chunks).  Three triggers keep the
ledger's guarantees across the two tables; each app adds them in its own migration with these
builders (each returns the forward and the reverse SQL):

- ``leaves_only_archived``: the live table still refuses UPDATE, and refuses DELETE unless the row's
  identical copy is already in the archive, so moving is the only way a row can leave, and it cannot
  lose or alter one.  (``updates=False`` for a table whose rows change, such as lots: DELETE only.)
- ``key_not_archived``: an INSERT into the live table whose (account, idempotency key) is in the
  archive fails as the unique index would (the same SQLSTATE and constraint name), so a replayed key
  is answered by its first posting, never posted twice.  One index probe per posting.
- ``append_only``: the archive refuses UPDATE and DELETE (``loyalty_refuse_change``).

The functions are written per table, not one function with the table as an argument: a static
statement is planned once per session, a dynamic one at every row.
"""

from __future__ import annotations


def append_only(table: str) -> tuple[str, str]:
    return (
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION loyalty_refuse_change();",
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
    )


def leaves_only_archived(live: str, archive: str, *, updates: bool = True) -> tuple[str, str]:
    """Replace ``live``'s append-only trigger (or, ``updates=False``, add a DELETE one) by the archive's guard."""
    function = f"{live}_leaves_only_archived"
    trigger = f"{live}_append_only" if updates else f"{live}_leaves_only_archived"
    events = "UPDATE OR DELETE" if updates else "DELETE"
    forward = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (
        SELECT 1 FROM {archive} a WHERE a.id = OLD.id AND to_jsonb(a) - 'archived_at' = to_jsonb(OLD)
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% on %.% is not allowed: ledger rows are append-only (a row leaves only for its archive)',
        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END;
$$;
DROP TRIGGER IF EXISTS {trigger} ON {live};
CREATE TRIGGER {trigger} BEFORE {events} ON {live} FOR EACH ROW EXECUTE FUNCTION {function}();
"""
    restore = (
        f"CREATE TRIGGER {trigger} BEFORE UPDATE OR DELETE ON {live} "
        f"FOR EACH ROW EXECUTE FUNCTION loyalty_refuse_change();"
        if updates
        else ""
    )
    reverse = f"DROP TRIGGER IF EXISTS {trigger} ON {live}; {restore} DROP FUNCTION IF EXISTS {function}();"
    return forward, reverse


def key_not_archived(live: str, archive: str, constraint: str) -> tuple[str, str]:
    """Refuse an INSERT into ``live`` whose (account_id, idempotency_key) is archived, as ``constraint`` would."""
    function = f"{live}_key_not_archived"
    forward = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM {archive} a
               WHERE a.account_id = NEW.account_id AND a.idempotency_key = NEW.idempotency_key) THEN
        RAISE EXCEPTION 'duplicate key value violates unique constraint "{constraint}"'
            USING ERRCODE = 'unique_violation', CONSTRAINT = '{constraint}',
                  DETAIL = 'The key was posted before and is in ' || '{archive}' || '.';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER {function} BEFORE INSERT ON {live} FOR EACH ROW EXECUTE FUNCTION {function}();
"""
    return forward, f"DROP TRIGGER IF EXISTS {function} ON {live}; DROP FUNCTION IF EXISTS {function}();"
