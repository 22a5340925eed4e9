"""The 工作台 on the admin home page: to-do counts linking to the filtered lists, shown only to those
who may open them, and today's figures against yesterday's."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from analytics.workbench import change, workbench
from coupons.models import BulkIssue
from loyalty.models import JobRun
from tests.factories import (
    CouponTemplateFactory,
    EarnedPointsFactory,
    MallItemFactory,
    MemberFactory,
    OperatorFactory,
    OrderFactory,
)
from tests.mall.helpers import address, redeem

pytestmark = pytest.mark.django_db


def _user_with(*perms):
    user = OperatorFactory()
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


@pytest.fixture
def to_ship():
    """Two physical redemptions paid and awaiting shipment."""
    member = MemberFactory()
    EarnedPointsFactory(member=member, amount=10_000)
    home = address(member)
    for key in ("1", "2"):
        redeem(member, MallItemFactory(stock=50), key=key, address_id=home.pk)


def _todos(response) -> dict[str, tuple[int, str]]:
    return {str(t["title"]): (t["count"], t["url"]) for t in response.context["workbench"]["todos"]}


def test_the_home_page_shows_the_count_to_ship_linking_to_the_filtered_list(client, to_ship):
    client.force_login(_user_with("mall.view_redemption"))

    response = client.get("/admin/")

    page = response.content.decode()
    assert _todos(response) == {
        "待发货的商城订单": (2, "/admin/mall/redemption/?status__exact=paid&kind__exact=physical")
    }
    assert 'href="/admin/mall/redemption/?status__exact=paid&amp;kind__exact=physical"' in page
    assert "待发货的商城订单" in page
    listed = client.get("/admin/mall/redemption/?status__exact=paid&kind__exact=physical")
    assert listed.status_code == 200 and listed.context["cl"].result_count == 2


def test_a_to_do_is_hidden_from_a_user_who_may_not_view_its_list(client, to_ship):
    client.force_login(_user_with("members.view_member"))

    response = client.get("/admin/")

    assert "待发货的商城订单" not in response.content.decode()
    assert _todos(response) == {}
    assert [str(f["title"]) for f in response.context["workbench"]["figures"]] == ["新增会员"]


def test_every_to_do_counts_what_its_link_lists(admin_client):
    now = timezone.now()
    MallItemFactory(stock=3)
    MallItemFactory(stock=300)
    CouponTemplateFactory(total_stock=5)
    CouponTemplateFactory(total_stock=1000, claim_starts_at=now)
    JobRun.objects.create(task="t1", schedule="s", period_start=now, status="failed", started_at=now)
    JobRun.objects.create(
        task="t2", schedule="s", period_start=now, status="running", started_at=now - timedelta(hours=3)
    )
    JobRun.objects.create(task="t3", schedule="s", period_start=now, status="running", started_at=now)
    BulkIssue.objects.create(
        template=CouponTemplateFactory(total_stock=1000), status="running", created_by=OperatorFactory()
    )

    todos = _todos(admin_client.get("/admin/"))

    expected = {
        "即将售罄的商品": 1,
        "即将发完的券模板": 1,
        "本周开始或结束的领券活动": 1,
        "失败的任务": 1,
        "卡住的任务（运行超过 1 小时）": 1,
        "进行中的批量发券": 1,
        "待发货的商城订单": 0,
        "微信退款失败": 0,
    }
    for title, count in expected.items():
        shown, url = todos[title]
        assert shown == count, title
        listed = admin_client.get(url)
        assert listed.status_code == 200, (title, url)
        assert listed.context["cl"].result_count == count, (title, url)


def test_figures_compare_today_with_yesterday_one_query_each(django_assert_num_queries):
    now = timezone.now()
    OrderFactory(cash_fen=30_000, at=now)
    OrderFactory(cash_fen=10_000, at=now)
    OrderFactory(cash_fen=20_000, at=now - timedelta(days=1))
    OrderFactory(cash_fen=99_000, at=now - timedelta(days=3))
    user = OperatorFactory(is_superuser=True)

    with django_assert_num_queries(4 + 11):  # four figures, eleven to-do counts
        shown = workbench(user)

    sales = shown["figures"][0]
    assert (str(sales["title"]), sales["today"], sales["yesterday"]) == ("销售额", "¥400.00", "¥200.00")
    assert (sales["direction"], sales["change"]) == ("up", "+100.0%")


def test_the_change_reads_as_an_arrow_and_a_percentage():
    assert change(90, 120) == ("down", "−25.0%")
    assert change(5, 5) == ("flat", "0%")
    assert change(5, 0)[0] == "up"
