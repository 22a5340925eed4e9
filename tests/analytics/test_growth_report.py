"""The growth report: each 拼团 and 砍价 activity's groups, bargains, units, sales and new members, and the
sharers who brought them, counted exactly on a few groups, bargains and attributed members."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from analytics import selectors
from analytics.selectors import local_today
from growth import services
from growth.attribution import bargain_channel, group_buy_channel
from growth.models import Group
from tests.factories import MemberFactory
from tests.growth.helpers import activity, join, open_paid, pay
from tests.growth.test_bargains import bargain_activity, buy_and_pay, cut_to_floor, start

pytestmark = pytest.mark.django_db

PAGE = "/admin/analytics/dailymetrics/growth/"


@pytest.fixture
def growth():
    group_buy = activity(name="双人团", price=1990)
    complete = open_paid(MemberFactory(), group_buy, key="a")
    pay(join(MemberFactory(), complete))
    open_paid(MemberFactory(), group_buy, key="b")  # still open
    failing = open_paid(MemberFactory(), group_buy, key="c")
    Group.objects.filter(pk=failing.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    assert services.group_fail(group_id=failing.pk)

    bargain = bargain_activity(name="好友帮砍", helpers=1, original=10_000, floor=990)
    buyer = MemberFactory()
    buy_and_pay(buyer, cut_to_floor(start(buyer, bargain)))
    start(MemberFactory(), bargain)  # started, not bought

    sharer, other = MemberFactory(nickname="小红"), MemberFactory(nickname="小明")
    for channel, referrer in [
        (group_buy_channel(group_buy.pk), sharer),
        (group_buy_channel(group_buy.pk), sharer),
        (bargain_channel(bargain.pk), sharer),
        (bargain_channel(bargain.pk), other),
        ("groupbuy:not-an-id", sharer),  # a channel no activity has: not counted
    ]:
        MemberFactory(registration_channel=channel, referrer=referrer)
    long_ago = MemberFactory(registration_channel=group_buy_channel(group_buy.pk), referrer=other)
    long_ago.registered_at = timezone.now() - timedelta(days=200)
    long_ago.save(update_fields=["registered_at"])  # before the period
    return group_buy, bargain, sharer, other


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
