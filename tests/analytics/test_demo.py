import io
from datetime import date, timedelta

import pytest
import time_machine
from django.core.management import call_command

from analytics.models import AttributionDaily, CouponDaily, DailyMetrics, MonthlyMetrics, RfmScore, Segment
from analytics.selectors import members_matching, period_totals
from orders.models import Order
from tests.helpers import assert_ledgers_consistent, local

pytestmark = pytest.mark.django_db

TODAY = date(2026, 12, 4)


def test_the_demo_gives_every_chart_something_to_show_and_runs_once(settings, tmp_path, admin_client):
    settings.BASE_DIR = tmp_path
    with time_machine.travel(local(2026, 12, 4, 20, 0)):
        call_command("seed_demo", "--members", "120", stdout=io.StringIO())
        orders = Order.objects.count()
        call_command("seed_demo", "--members", "120", stdout=io.StringIO())
        assert orders > 100 and Order.objects.count() == orders
        assert Order.objects.filter(status="refunded").exists()
        assert Order.objects.filter(status="partially_refunded").exists()

        assert DailyMetrics.objects.filter(purchases__gt=0).count() > 60
        assert DailyMetrics.objects.filter(is_member_day=True, purchases__gt=0).exists()
        for column in ("points_earned", "points_spent", "points_expired", "coupons_used", "bonus_issued_fen"):
            assert DailyMetrics.objects.filter(**{f"{column}__gt": 0}).count() > 5, column
        months = MonthlyMetrics.objects.filter(buyers__gt=0)
        assert months.count() >= 10 and months.filter(repeat_buyers__gt=0).exists()
        assert MonthlyMetrics.objects.filter(cohort_90__gt=0).count() >= 5
        assert AttributionDaily.objects.filter(kind="registration").exists() and CouponDaily.objects.exists()
        assert RfmScore.objects.values("segment").distinct().count() >= 4
        assert Segment.objects.count() == 3
        assert all(members_matching(s.rules).exists() for s in Segment.objects.all())
        assert admin_client.get("/admin/analytics/dailymetrics/").status_code == 200
        assert_ledgers_consistent()

    # The dashboard's periods (近30天, 上月, the default 90 days) each beside the same length before it:
    # figures on both sides, and a points chart that varies from day to day.
    last_month_end = TODAY.replace(day=1) - timedelta(days=1)
    periods = [
        (TODAY - timedelta(days=29), TODAY),
        (last_month_end.replace(day=1), last_month_end),
        (TODAY - timedelta(days=89), TODAY),
    ]
    for start, end in periods:
        before_end = start - timedelta(days=1)
        for figures in (
            period_totals(start=start, end=end),
            period_totals(start=before_end - (end - start), end=before_end),
        ):
            shown = (
                "purchases",
                "points_earned",
                "points_spent",
                "new_members",
                "coupons_issued",
                "coupons_used",
            )
            assert all(figures[name] for name in shown), (start, end, figures)
    last_30_days = DailyMetrics.objects.filter(day__range=(TODAY - timedelta(days=29), TODAY))
    assert len(set(last_30_days.values_list("points_earned", flat=True))) > 15
