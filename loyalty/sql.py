"""The loyalty core's SQL: the raw statements of the job runs, the API's idempotency keys, its
signed-request nonces and the configuration version, named, one function each.

Table and column names come from the models (``loyalty.rows.Names``) and are put into the text once,
at import; rows come back as named records.  tests/loyalty/test_sql.py checks them against the ORM.
(``loyalty.rows`` holds what every app's SQL module shares; ``loyalty.prepared`` runs prepared statements.)
"""

from __future__ import annotations

from collections import namedtuple
from contextlib import contextmanager

import psycopg2
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from loyalty import prepared
from loyalty.models import ApiClient, ApiNonce, IdempotencyRecord, JobRun
from loyalty.rows import Names, db_cursor

_j = Names(JobRun)
_ir = Names(IdempotencyRecord)
_ac = Names(ApiClient)
_an = Names(ApiNonce)

NonceCheck = namedtuple("NonceCheck", "valid stored version")

# --- the configuration version (loyalty.config) ---------------------------------------------------

# One row, made and moved by SQL alone (loyalty/migrations/0006_config_version.py): it has no model.
CONFIG_VERSION_TABLE = "loyalty_config_version"

#: Appended to a statement's select list to read the version in the same round trip
#: (``loyalty.config.note_version``).
CONFIG_VERSION_SUBQUERY = f"(SELECT version FROM {CONFIG_VERSION_TABLE} WHERE id = 1)"

_CONFIG_VERSION = f"SELECT version FROM {CONFIG_VERSION_TABLE} WHERE id = 1"


def config_version() -> int | None:
    """The configuration version now, or None if its row is missing (a flushed test database)."""
    with db_cursor() as cur:
        cur.execute(_CONFIG_VERSION)
        row = cur.fetchone()
    return row[0] if row else None


# --- a replica-fed page's "as of" (loyalty.db_router) -------------------------------------------

# On a standby: now while it has replayed all it received (and is not paused), else the commit time of
# the last transaction it replayed.  On the primary: now.
_DATA_AS_OF = """SELECT CASE WHEN NOT pg_is_in_recovery() THEN now()
                   WHEN NOT pg_is_wal_replay_paused() AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
                        THEN now()
                   ELSE pg_last_xact_replay_timestamp() END"""


def data_as_of(alias: str):
    """When the data read on ``alias`` is as of (None when a standby has replayed nothing yet)."""
    with connections[alias].cursor() as cur:
        cur.execute(_DATA_AS_OF)
        return cur.fetchone()[0]


# --- job runs -------------------------------------------------------------------------------------

_JOB_INSERT = f"""INSERT INTO {_j.table} ({_j.task}, {_j.schedule}, {_j.period_start}, {_j.status}, {_j.attempts}, {_j.duplicates},
                                           {_j.worker}, {_j.error}, {_j.started_at})
               VALUES (%s, %s, %s, 'running', 0, 0, %s, '', now())
               ON CONFLICT ({_j.task}, {_j.period_start}) DO UPDATE SET {_j.task} = EXCLUDED.{_j.task}
               RETURNING {_j.id}"""
_JOB_STATUS = f"SELECT {_j.status} FROM {_j.table} WHERE {_j.id} = %s"
_JOB_START = f"""UPDATE {_j.table} SET {_j.status} = 'running', {_j.attempts} = {_j.attempts} + 1, {_j.worker} = %s,
                      {_j.error} = '', {_j.started_at} = now(), {_j.finished_at} = NULL WHERE {_j.id} = %s"""
_JOB_END = f"""UPDATE {_j.table} SET {_j.status} = %s, {_j.result} = %s::jsonb, {_j.error} = %s, {_j.finished_at} = now()
                   WHERE {_j.id} = %s"""
_JOB_DUPLICATE = f"UPDATE {_j.table} SET {_j.duplicates} = {_j.duplicates} + 1 WHERE {_j.id} = %s"


def job_row(cur, task: str, schedule: str, period_start, worker: str) -> int:
    """The run row of (task, period), inserted as running unless it exists; its id."""
    cur.execute(_JOB_INSERT, [task, schedule, period_start, worker])
    return cur.fetchone()[0]


def job_status(cur, job_id: int) -> str:
    cur.execute(_JOB_STATUS, [job_id])
    return cur.fetchone()[0]


def job_start(cur, job_id: int, worker: str) -> None:
    """Mark the run running again: one more attempt, by ``worker``."""
    cur.execute(_JOB_START, [worker, job_id])


def job_end(cur, job_id: int, status: str, result_json: str, error: str) -> None:
    cur.execute(_JOB_END, [status, result_json, error, job_id])


def job_duplicate(cur, job_id: int) -> None:
    """Count a claim of the run that was skipped."""
    cur.execute(_JOB_DUPLICATE, [job_id])


# --- the API ------------------------------------------------------------------------------------

_IDEMPOTENCY_CLAIM = f"""INSERT INTO {_ir.table} ({_ir.scope}, {_ir.key}, {_ir.fingerprint}, {_ir.status_code}, {_ir.body}, {_ir.created_at})
                VALUES (%s, %s, %s, 0, 'null'::jsonb, now())
                ON CONFLICT ({_ir.scope}, {_ir.key}) DO NOTHING RETURNING {_ir.id}"""

# Seconds between two writes of a client's ``last_used_at`` (the column is informative).
LAST_USED_RESOLUTION_SECONDS = 60

# Stores the nonce only while the client is active with the secret the signature was checked against,
# and touches last_used_at at most once a minute. Answers (client still valid, nonce stored, configuration
# version: the view's cached configuration reads then need no statement of their own). Prepared: planning
# its CTE cost more than running it.
_NONCE = prepared.Statement(
    "api_nonce",
    f"""
    WITH c AS (SELECT {_ac.id} FROM {_ac.table} WHERE {_ac.id} = $1::bigint AND {_ac.is_active} AND {_ac.secret_encrypted} = $2::text),
         n AS (INSERT INTO {_an.table} ({_an.client_id}, {_an.nonce}, {_an.seen_at}) SELECT {_ac.id}, $3::varchar, now() FROM c
               ON CONFLICT ({_an.client_id}, {_an.nonce}) DO NOTHING RETURNING {_an.client_id}),
         u AS (UPDATE {_ac.table} SET {_ac.last_used_at} = now()
               WHERE {_ac.id} IN (SELECT {_an.client_id} FROM n)
                 AND ({_ac.last_used_at} IS NULL
                      OR {_ac.last_used_at} < now() - interval '{LAST_USED_RESOLUTION_SECONDS} seconds'))
    SELECT EXISTS (SELECT 1 FROM c), EXISTS (SELECT 1 FROM n), {CONFIG_VERSION_SUBQUERY}
""",
)


def idempotency_claim(scope: str, key: str, fingerprint: str) -> bool:
    """Insert the key's placeholder record; False when the key already has one."""
    with db_cursor() as cursor:
        cursor.execute(_IDEMPOTENCY_CLAIM, [scope, key, fingerprint])
        return cursor.fetchone() is not None


def nonce_check(client_id: int, secret_encrypted: str, nonce: str) -> NonceCheck:
    """Whether the client is still active with this secret, whether the nonce is new (stored now), and
    the configuration version: one round trip."""
    with db_cursor() as cursor:
        prepared.execute(cursor, _NONCE, [client_id, secret_encrypted, nonce])
        return NonceCheck(*cursor.fetchone())


def ping() -> None:
    """One round trip to the database (the health check)."""
    with db_cursor() as cursor:
        cursor.execute("SELECT 1")


# --- advisory locks (keys from loyalty.locks.advisory_key) ----------------------------------------

_ADVISORY_XACT_LOCK = "SELECT pg_advisory_xact_lock(%s)"
_ADVISORY_XACT_LOCK_MANY = (
    "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(k, n) ORDER BY n"
)
_TRY_ADVISORY_XACT_LOCK = "SELECT pg_try_advisory_xact_lock(%s)"


def advisory_xact_lock(key: int) -> None:
    """Wait for the transaction-level advisory lock ``key``."""
    with db_cursor() as cursor:
        cursor.execute(_ADVISORY_XACT_LOCK, [key])


def advisory_xact_lock_many(keys: list[int]) -> None:
    """Wait for each transaction-level advisory lock of ``keys``, in the order given."""
    with db_cursor() as cursor:
        cursor.execute(_ADVISORY_XACT_LOCK_MANY, [keys])


def advisory_lock_held_open(key: int):
    """A new connection of its own whose open transaction holds the advisory lock ``key``, or None if
    another holds it now.  The lock lasts until that connection closes (or its process dies).

    A transaction-level lock in a transaction left open, not a session-level lock: a pooler in
    transaction mode keeps one server session for a transaction, never for a client's connection.
    The transaction takes no snapshot after its one statement (READ COMMITTED) and writes nothing, so
    it holds back no vacuum; ``idle_in_transaction_session_timeout`` must stay off for its role.
    """
    db = connections[DEFAULT_DB_ALIAS]
    conn = psycopg2.connect(**db.get_connection_params())  # autocommit off: BEGIN comes with the statement
    try:
        with conn.cursor() as cursor:
            cursor.execute(_TRY_ADVISORY_XACT_LOCK, [key])
            locked = cursor.fetchone()[0]
    except BaseException:
        conn.close()
        raise
    if not locked:
        conn.close()
        return None
    return conn


# --- loading the demo ------------------------------------------------------------------------------

_COMMITS_UNFLUSHED = "SET synchronous_commit TO OFF"
_COMMITS_FLUSHED = "RESET synchronous_commit"


@contextmanager
def commits_unflushed():
    """Inside the block this session's commits do not wait for the WAL to reach the disk.

    For loading many small transactions (the demo's year, a third faster): a crash may lose the last
    ones committed, never part of one, and the data stays consistent.

    Nothing behind a pooler in transaction mode (``DB_POOLER``): a session setting would stay on a
    server session that other clients' transactions run on next, and miss the ones this loads.
    """
    if settings.DB_POOLER == "transaction":
        yield
        return
    with db_cursor() as cursor:
        cursor.execute(_COMMITS_UNFLUSHED)
    try:
        yield
    finally:
        with db_cursor() as cursor:
            cursor.execute(_COMMITS_FLUSHED)
