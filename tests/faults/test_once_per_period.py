"""Two beats by mistake: each scheduled job still runs once per firing of its schedule."""

import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from celery.schedules import crontab
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from loyalty.celery import app as celery_app
from loyalty.jobs import latest_crontab_firing
from loyalty.locks import Space, advisory_key
from loyalty.models import JobRun
from points import ledger
from points.models import PointsEntry
from points.tasks import expire_due
from tests.factories import MemberFactory
from tests.faults.helpers import new_queue, raw_connection, start_beat, start_worker, wait_for
from tests.helpers import local


def schedule(name: str, task: str, *, minute="5", hour="0", queue=None, last_run_at=None) -> PeriodicTask:
    cron, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="Asia/Shanghai",
    )
    return PeriodicTask.objects.update_or_create(
        name=name, defaults={"task": task, "crontab": cron, "queue": queue, "last_run_at": last_run_at}
    )[0]


def beat_trigger(task, name):
    """What celery beat sends: the schedule's name in the message headers."""
    return task.apply(headers={"periodic_task_name": name})


def expired_points(count=3):
    members = MemberFactory.create_batch(count)
    for member in members:
        ledger.points_earn(
            member_id=member.pk,
            amount=100,
            idempotency_key="seed",
            source="test",
            expires_at=timezone.now() - timedelta(days=1),
        )
    return members


# --- the period of a firing -------------------------------------------------------------------------


def test_a_daily_job_seen_just_before_its_time_belongs_to_yesterdays_firing():
    assert latest_crontab_firing(crontab(minute=5, hour=0), local(2026, 12, 2, 0, 4, 59)) == local(
        2026, 12, 1, 0, 5
    )
    assert latest_crontab_firing(crontab(minute=5, hour=0), local(2026, 12, 2, 0, 5, 30)) == local(
        2026, 12, 2, 0, 5
    )


def test_a_five_minute_job_belongs_to_the_latest_multiple_of_five_minutes():
    assert latest_crontab_firing(crontab(minute="*/5"), local(2026, 12, 2, 10, 7, 30)) == local(
        2026, 12, 2, 10, 5
    )


def test_a_weekly_member_day_job_belongs_to_the_last_wednesday_in_the_merchants_time_zone():
    # Thursday 2026-12-03 08:00 in Shanghai is still Thursday 00:00 UTC: the period is Wednesday 09:00 local.
    now_utc = datetime(2026, 12, 3, 0, 0, tzinfo=ZoneInfo("UTC"))
    assert latest_crontab_firing(crontab(minute=0, hour=9, day_of_week=3), now_utc) == local(
        2026, 12, 2, 9, 0
    )


# --- the claim, eagerly -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_second_trigger_of_the_same_firing_is_a_logged_no_op(caplog):
    name = schedule("expire points", "points.expire_due").name
    expired_points(3)

    first = beat_trigger(expire_due, name)
    with caplog.at_level("INFO", logger="loyalty.jobs"):
        second = beat_trigger(expire_due, name)

    assert first.result == 3 and second.result is None
    run = JobRun.objects.get()
    assert (run.task, run.status, run.attempts, run.duplicates, run.result) == (
        "points.expire_due",
        "done",
        1,
        1,
        3,
    )
    assert run.period_start == latest_crontab_firing(crontab(minute=5, hour=0), timezone.now())
    assert "skipped: it already ran" in caplog.text


@pytest.mark.django_db
def test_the_next_firing_runs_again():
    name = schedule("expire points", "points.expire_due").name
    beat_trigger(expire_due, name)
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        expired_points(1)
        assert beat_trigger(expire_due, name).result == 1

    assert JobRun.objects.count() == 2 and set(JobRun.objects.values_list("attempts", flat=True)) == {1}


@pytest.mark.django_db
def test_a_call_that_beat_did_not_send_always_runs():
    expired_points(1)

    assert expire_due.apply().result == 1
    assert expire_due.apply().result == 0
    assert not JobRun.objects.exists()


@pytest.mark.django_db
def test_a_run_that_failed_runs_again_in_the_same_period(monkeypatch):
    name = schedule("expire points", "points.expire_due").name
    expired_points(2)

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ledger, "points_expire_due", broken)
    with pytest.raises(RuntimeError):
        beat_trigger(expire_due, name)
    assert JobRun.objects.get().status == "failed"
    assert PointsEntry.objects.filter(kind="expire").count() == 0
    monkeypatch.undo()

    assert beat_trigger(expire_due, name).result == 2
    run = JobRun.objects.get()
    assert (run.status, run.attempts, run.error) == ("done", 2, "")


@pytest.mark.django_db
def test_a_claim_whose_worker_died_is_taken_over():
    name = schedule("expire points", "points.expire_due").name
    expired_points(2)
    period = latest_crontab_firing(crontab(minute=5, hour=0), timezone.now())
    # What a SIGKILLed worker leaves: the row says running, but no session holds its lock any more.
    JobRun.objects.create(
        task="points.expire_due",
        schedule=name,
        period_start=period,
        status="running",
        attempts=1,
        started_at=timezone.now(),
    )

    assert beat_trigger(expire_due, name).result == 2
    assert JobRun.objects.values_list("status", "attempts").get() == ("done", 2)


@pytest.mark.django_db(transaction=True)
def test_a_claim_another_worker_is_running_is_skipped():
    name = schedule("expire points", "points.expire_due").name
    expired_points(2)
    period = latest_crontab_firing(crontab(minute=5, hour=0), timezone.now())
    run = JobRun.objects.create(
        task="points.expire_due",
        schedule=name,
        period_start=period,
        status="running",
        attempts=1,
        started_at=timezone.now(),
    )
    other = raw_connection(autocommit=False)  # the other worker's open transaction, holding the claim
    try:
        with other.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_key(Space.JOB, run.pk)])

        assert beat_trigger(expire_due, name).result is None
    finally:
        other.close()

    run.refresh_from_db()
    assert (run.status, run.attempts, run.duplicates) == ("running", 1, 1)
    assert PointsEntry.objects.filter(kind="expire").count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_beat_schedulers_that_find_a_job_due_at_the_same_moment_run_it_once(monkeypatch):
    """Two beats' own schedulers, each loaded before either sent: both decide the job is due and send it
    at the same instant (eagerly, each in its own thread and database session); one run does the work."""
    from django.db import connection
    from django_celery_beat.schedulers import DatabaseScheduler

    from loyalty import tasks

    PeriodicTask.objects.update(enabled=False)
    name = schedule(
        "purge every minute",
        "loyalty.purge_expired",
        minute="*",
        hour="*",
        last_run_at=timezone.now() - timedelta(minutes=10),
    ).name
    beats = [DatabaseScheduler(app=celery_app), DatabaseScheduler(app=celery_app)]
    due = [beat.schedule[name] for beat in beats]
    assert all(entry.is_due().is_due for entry in due)

    bodies = []

    def slow_purge():
        bodies.append(1)
        time.sleep(0.5)  # long enough for the other trigger to arrive while this one runs
        return {"nonces": 0}

    monkeypatch.setattr(tasks.services, "platform_purge_expired", slow_purge)
    barrier = threading.Barrier(2)

    def send(beat, entry):
        try:
            barrier.wait(timeout=10)
            beat.apply_entry(entry)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=pair) for pair in zip(beats, due, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(bodies) == 1
    run = JobRun.objects.get()
    assert (run.task, run.status, run.attempts, run.duplicates) == ("loyalty.purge_expired", "done", 1, 1)


# --- through real processes -----------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")  # send_task always sends
@pytest.mark.django_db(transaction=True)
def test_two_triggers_of_one_firing_through_a_real_worker_run_the_job_once(tmp_path):
    queue = new_queue()
    name = schedule("expire points", "points.expire_due", queue=queue).name
    expired_points(3)
    worker = start_worker(tmp_path, queue)
    try:
        for _ in range(2):
            celery_app.send_task("points.expire_due", queue=queue, headers={"periodic_task_name": name})

        assert wait_for(lambda: JobRun.objects.filter(duplicates=1, status="done").exists(), timeout=30), (
            worker.output()
        )
    finally:
        worker.stop()

    run = JobRun.objects.get()
    assert (run.attempts, run.duplicates, run.result) == (1, 1, 3)
    assert PointsEntry.objects.filter(kind="expire").count() == 3


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_beat_processes_by_mistake_still_run_a_job_once_per_period(tmp_path):
    queue = new_queue()
    PeriodicTask.objects.update(enabled=False)
    # Every minute, last run long ago: both beats find it due the moment they start.
    task = schedule(
        "purge every minute",
        "loyalty.purge_expired",
        minute="*",
        hour="*",
        queue=queue,
        last_run_at=timezone.now() - timedelta(minutes=10),
    )
    # Both beats must fire within one minute: start them early in a minute.
    if timezone.now().second > 40:
        wait_for(lambda: timezone.now().second < 5, timeout=25, interval=0.2)

    worker = start_worker(tmp_path, queue)
    beats = [start_beat(tmp_path, "a"), start_beat(tmp_path, "b")]
    try:
        ran_once_and_refused_once = wait_for(
            lambda: JobRun.objects.filter(
                task="loyalty.purge_expired", duplicates__gte=1, status="done"
            ).exists(),
            # A beat that loads the schedule after the other's first send (a loaded machine) sees it
            # done for this minute: both send at the next minute's firing.
            timeout=100,
            interval=0.2,
        )
    finally:
        for beat in beats:
            beat.stop()
        worker.stop()
    logs = "\n".join(p.output() for p in [*beats, worker])
    assert ran_once_and_refused_once, logs
    sent = sum(beat.output().count("Scheduler: Sending due task purge every minute") for beat in beats)
    runs = JobRun.objects.filter(task="loyalty.purge_expired")
    # Every trigger either ran its minute's job or was counted as that minute's duplicate.
    assert sum(r.attempts + r.duplicates for r in runs) == sent >= 2
    assert all(r.attempts == 1 for r in runs)
    assert task.name in logs


@pytest.mark.django_db
def test_the_hourly_purge_drops_finished_runs_past_retention_and_keeps_the_rest(settings):
    from loyalty.services import platform_purge_expired

    old = timezone.now() - settings.JOB_RUN_RETENTION - timedelta(hours=1)
    for task, status, started in [("a", "done", old), ("b", "running", old), ("c", "done", timezone.now())]:
        JobRun.objects.create(
            task=task, schedule=task, period_start=started, status=status, started_at=started
        )

    assert platform_purge_expired()["job_runs"] == 1
    assert sorted(JobRun.objects.values_list("task", flat=True)) == ["b", "c"]
