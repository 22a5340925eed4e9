"""RFM runs and report refreshes started at the same instant, each thread on its own connection."""

from datetime import date, timedelta

import pytest

from analytics.models import DailyMetrics, MonthlyMetrics, RfmRun, RfmScore
from analytics.reports import reports_refresh
from analytics.rfm import rfm_run_execute
from tests.concurrency import run_concurrently
from tests.factories import MemberFactory, OrderFactory
from tests.helpers import local

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("many-connections")]


def test_the_same_rfm_run_executed_four_times_at_once_computes_once():
    members = [MemberFactory() for _ in range(6)]
    for i, m in enumerate(members):
        for _ in range(i + 1):
            OrderFactory(member=m, at=local(2026, 5, 1) - timedelta(days=i), cash_fen=1_000 * (i + 1))
    run = RfmRun.objects.create(as_of=local(2026, 6, 1), window_days=365)
    results, errors = run_concurrently(lambda _i: rfm_run_execute(run_id=run.pk).finished_at, 4)
    assert errors == [] and len(set(results)) == 1  # one computation; the others found it done
    assert RfmScore.objects.count() == 6 and set(RfmScore.objects.values_list("run_id", flat=True)) == {
        run.pk
    }


def test_two_different_rfm_runs_at_once_leave_the_scores_of_one_run_only():
    members = [MemberFactory() for _ in range(4)]
    for m in members:
        OrderFactory(member=m, at=local(2026, 5, 1))
    runs = [RfmRun.objects.create(as_of=local(2026, 6, 1), window_days=365) for _ in range(2)]
    _results, errors = run_concurrently(lambda i: rfm_run_execute(run_id=runs[i].pk), 2)
    assert errors == []
    assert RfmScore.objects.count() == 4 and len(set(RfmScore.objects.values_list("run_id", flat=True))) == 1


def test_report_refreshes_at_once_leave_one_row_per_day_and_month():
    member = MemberFactory()
    OrderFactory(member=member, at=local(2026, 3, 3, 12), cash_fen=5_000)
    _results, errors = run_concurrently(
        lambda _i: reports_refresh(start=date(2026, 3, 1), end=date(2026, 3, 31)), 3
    )
    assert errors == []
    assert DailyMetrics.objects.count() == 31 and MonthlyMetrics.objects.count() == 1
    assert DailyMetrics.objects.get(day=date(2026, 3, 3)).sales_fen == 5_000
