"""The growth report: each 拼团 and 砍价 activity's groups, bargains, units, sales and new members, and the
sharers who brought them, counted exactly on a few groups, bargains and attributed members."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User

from analytics import selectors
from analytics.selectors import local_today
from tests.analytics.helpers import growth_report_data

pytestmark = pytest.mark.django_db

PAGE = "/admin/analytics/dailymetrics/growth/"


@pytest.fixture
def growth():
    return growth_report_data()


def test_each_activity_counts_its_groups_or_bargains_units_sales_and_new_members(growth):
    group_buy, bargain, _sharer, _other = growth
    today = local_today()
    rows = selectors.growth_activities(start=today - timedelta(days=30), end=today)
    assert [tuple(r) for r in rows] == [  # the latest to start first
        ("bargain", bargain.pk, "好友帮砍", None, None, None, 2, 1, 1, 990, 2),
        ("group_buy", group_buy.pk, "双人团", 3, 1, 1, None, None, 2, 2 * 1990, 2),
    ]
    earlier = selectors.growth_activities(start=today - timedelta(days=400), end=today - timedelta(days=31))
    assert [tuple(r) for r in earlier] == [  # only the member registered long ago
        ("group_buy", group_buy.pk, "双人团", 0, 0, 0, None, None, 0, 0, 1)
    ]


def test_the_sharers_are_listed_by_the_new_members_they_brought_per_activity(growth):
    group_buy, bargain, sharer, other = growth
    today = local_today()
    rows = selectors.growth_sharers(start=today - timedelta(days=30), end=today)
    assert [tuple(r) for r in rows] == [
        (sharer.pk, "小红", "group_buy", group_buy.pk, "双人团", 2),
        (sharer.pk, "小红", "bargain", bargain.pk, "好友帮砍", 1),
        (other.pk, "小明", "bargain", bargain.pk, "好友帮砍", 1),
    ]
    everything = selectors.growth_sharers(start=today - timedelta(days=365), end=today, limit=1)
    assert [(r.referrer_id, r.new_members) for r in everything] == [(sharer.pk, 2)]


def test_the_page_shows_yuan_and_chinese_labels_and_exports_csv(admin_client, growth):
    response = admin_client.get(PAGE, {"period": "last_30_days"})
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(r["kind"], r["started"], r["done"], r["units"], r["sales"], r["new_members"]) for r in rows] == [
        ("砍价", "2", "1", "1", "¥9.90", "2"),
        ("拼团", "3", "1", "2", "¥39.80", "2"),
    ]
    assert response.context["totals"] == {"units": "3", "sales": "¥49.70", "new_members": "4"}
    assert response.context["sharers"][0]["sharer"].startswith("小红")
    html = response.content.decode()
    assert "裂变增长报表" in html and "分享达人" in html

    export = admin_client.get(PAGE, {"period": "last_30_days", "export": "growth"})
    body = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert body[0][:4] == ["类型", "活动ID", "活动", "开团数"]
    assert body[2][0] == "拼团" and body[2][-2:] == ["39.80", "2"] and body[1][-2:] == ["9.90", "2"]
    sharers = admin_client.get(PAGE, {"period": "last_30_days", "export": "sharers"})
    lines = b"".join(sharers.streaming_content).decode("utf-8-sig").splitlines()
    assert len(lines) == 4 and "小红" in lines[1]


def test_the_report_needs_the_dashboard_and_growth_permissions(client, growth):
    user = User.objects.create_user("analyst", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_dailymetrics"))
    client.force_login(user)
    assert client.get(PAGE).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_groupbuyactivity"))
    user = User.objects.get(pk=user.pk)
    client.force_login(user)
    assert client.get(PAGE).status_code == 200
