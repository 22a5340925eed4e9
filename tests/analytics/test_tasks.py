from datetime import timedelta

import pytest
from django.utils import timezone

from analytics import reports, tasks
from analytics.models import DailyMetrics, ReportRun, RfmRun, RfmScore
from analytics.selectors import local_today
from loyalty.schedules import DEFAULT_SCHEDULES
from tests.factories import MemberFactory, OrderFactory

pytestmark = pytest.mark.django_db


def test_the_nightly_jobs_are_scheduled():
    scheduled = {s.task for s in DEFAULT_SCHEDULES}
    assert {"analytics.rfm_nightly", "analytics.refresh_reports"} <= scheduled


def test_the_nightly_rfm_task_finishes_an_interrupted_run_then_scores_everybody():
    member = MemberFactory()
    OrderFactory(member=member, at=timezone.now() - timedelta(days=2))
    stuck = RfmRun.objects.create(as_of=timezone.now(), window_days=365, status="running")
    assert tasks.rfm_nightly.delay().get() == 1
    stuck.refresh_from_db()
    assert stuck.status == "done" and RfmRun.objects.filter(status="done").count() == 2
    assert RfmScore.objects.get().run_id == RfmRun.objects.order_by("-id").first().pk


def test_the_nightly_report_task_covers_everything_on_its_first_run_then_the_last_120_days():
    member = MemberFactory()
    type(member).objects.filter(pk=member.pk).update(registered_at=timezone.now() - timedelta(days=400))
    tasks.refresh_reports.delay().get()
    first = ReportRun.objects.get()
    assert first.status == "done" and first.end == local_today()
    assert first.start <= local_today() - timedelta(days=400)
    assert DailyMetrics.objects.filter(new_members=1).count() == 1
    tasks.refresh_reports.delay().get()
    assert ReportRun.objects.order_by("-id").first().start == local_today() - timedelta(days=120)


@pytest.mark.django_db(transaction=True)
def test_a_refresh_marks_a_run_a_killed_worker_left_running_failed_and_leaves_a_working_one_alone():
    import contextlib

    from tests.faults.helpers import raw_connection

    today = local_today()
    dead = ReportRun.objects.create(start=today, end=today, status="running")
    working = ReportRun.objects.create(start=today, end=today, status="running")
    with contextlib.closing(raw_connection(autocommit=False)) as other, other.cursor() as cur:
        # A refresh at work holds its run's row (a killed worker's session, and its hold, are gone).
        cur.execute("SELECT 1 FROM analytics_reportrun WHERE id = %s FOR UPDATE", [working.pk])
        run = reports.reports_refresh(start=today, end=today)

    statuses = dict(ReportRun.objects.values_list("pk", "status"))
    assert statuses == {dead.pk: "failed", working.pk: "running", run.pk: "done"}
    assert ReportRun.objects.get(pk=dead.pk).finished_at is not None
