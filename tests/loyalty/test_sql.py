"""The loyalty core's raw statements (loyalty/sql.py) write and read what the ORM would."""

import pytest
from django.db import connection, transaction
from django.utils import timezone

from loyalty import sql
from loyalty.models import IdempotencyRecord, JobRun

pytestmark = pytest.mark.django_db


def test_a_job_run_row_is_claimed_started_counted_and_ended_as_the_orm_reads_it():
    period = timezone.now().replace(microsecond=0)
    with connection.cursor() as cur:
        run_id = sql.job_row(cur, "t.task", "nightly", period, "w1")
        assert sql.job_row(cur, "t.task", "nightly", period, "w2") == run_id  # the same period's row
        run = JobRun.objects.get(pk=run_id)
        assert (run.task, run.schedule, run.period_start, run.status, run.attempts, run.worker) == (
            "t.task",
            "nightly",
            period,
            "running",
            0,
            "w1",
        )
        assert sql.job_status(cur, run_id) == run.status
        held = sql.advisory_lock_held_open(run_id)
        assert held is not None
        sql.job_start(cur, run_id, "w3")
        sql.job_duplicate(cur, run_id)
        run.refresh_from_db()
        assert (run.attempts, run.duplicates, run.worker, run.finished_at) == (1, 1, "w3", None)
        sql.job_end(cur, run_id, "done", '{"n": 2}', "")
        held.close()
    run.refresh_from_db()
    assert (run.status, run.result, run.error) == ("done", {"n": 2}, "")
    assert run.finished_at is not None


def test_advisory_locks_are_taken_and_given_back_by_key():
    with transaction.atomic():
        sql.advisory_xact_lock(7)
        sql.advisory_xact_lock_many([8, 9])
        with connection.cursor() as cur:
            cur.execute(
                "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
            assert {objid for (objid,) in cur.fetchall()} >= {7, 8, 9}


def test_an_advisory_lock_held_open_is_refused_to_others_until_its_connection_closes():
    held = sql.advisory_lock_held_open(10)
    assert held is not None and sql.advisory_lock_held_open(10) is None

    held.close()

    again = sql.advisory_lock_held_open(10)
    assert again is not None
    again.close()


def test_an_idempotency_key_is_claimed_once():
    assert sql.idempotency_claim("s", "k", "f") is True
    assert sql.idempotency_claim("s", "k", "other") is False
    record = IdempotencyRecord.objects.get(scope="s", key="k")
    assert (record.fingerprint, record.status_code, record.body) == ("f", 0, None)


def synchronous_commit():
    with connection.cursor() as cur:
        cur.execute("SHOW synchronous_commit")
        return cur.fetchone()[0]


def test_commits_stop_waiting_for_the_disk_only_inside_the_block(settings):
    settings.DB_POOLER = ""
    before = synchronous_commit()
    with sql.commits_unflushed():
        assert synchronous_commit() == "off"
    assert synchronous_commit() == before


def test_behind_a_transaction_pooler_commits_keep_waiting_for_the_disk(settings):
    """A session setting would stay behind on a pooled server session, for other clients."""
    settings.DB_POOLER = "transaction"
    before = synchronous_commit()
    with sql.commits_unflushed():
        assert synchronous_commit() == before
