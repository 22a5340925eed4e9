import io

import pytest
from django.core.management import call_command

from analytics.models import AttributionDaily, CouponDaily, DailyMetrics, MonthlyMetrics, RfmScore, Segment
from analytics.selectors import members_matching
from orders.models import Order
from tests.helpers import assert_ledgers_consistent

pytestmark = pytest.mark.django_db


def test_the_demo_gives_every_chart_something_to_show_and_runs_once(settings, tmp_path, admin_client):
    settings.BASE_DIR = tmp_path
    call_command("seed_demo", "--members", "120", stdout=io.StringIO())
    history = Order.objects.filter(order_no__startswith="HIST-").count()
    call_command("seed_demo", "--members", "120", stdout=io.StringIO())
    assert history > 100 and Order.objects.filter(order_no__startswith="HIST-").count() == history
    assert Order.objects.filter(order_no__startswith="HIST-", status="refunded").exists()
    assert Order.objects.filter(order_no__startswith="HIST-", status="partially_refunded").exists()

    assert DailyMetrics.objects.filter(purchases__gt=0).count() > 60
    assert DailyMetrics.objects.filter(is_member_day=True, purchases__gt=0).exists()
    assert DailyMetrics.objects.filter(points_earned__gt=0).exists()
    months = MonthlyMetrics.objects.filter(buyers__gt=0)
    assert months.count() >= 10 and months.filter(repeat_buyers__gt=0).exists()
    assert MonthlyMetrics.objects.filter(cohort_90__gt=0).count() >= 5
    assert AttributionDaily.objects.filter(kind="registration").exists() and CouponDaily.objects.exists()
    assert RfmScore.objects.values("segment").distinct().count() >= 4
    assert Segment.objects.count() == 3
    assert all(members_matching(s.rules).exists() for s in Segment.objects.all())
    assert admin_client.get("/admin/analytics/dailymetrics/").status_code == 200
    assert_ledgers_consistent()
