"""The 拼团 back office: activities in 元 that cannot be edited under what is sold, groups with their
members and payments, the refund report and its CSV."""

from datetime import timedelta

import pytest
from django.utils import timezone

from growth.models import Group, GroupBuyActivity
from tests.factories import MemberFactory
from tests.growth.helpers import activity, join, open_paid, pay
from tests.helpers import assert_reads_as_the_admin, csv_download, page_text

pytestmark = pytest.mark.django_db


def form_data(act, **changes):
    local = timezone.localtime
    data = {
        "name": act.name,
        "item": act.item_id,
        "is_active": "on",
        "group_price_fen": "19.90",
        "original_price_fen": "39.80",
        "group_size": act.group_size,
        "time_limit_minutes": act.time_limit_minutes,
        "stock_total": act.stock_total,
        "per_member_limit": "",
        "starts_at_0": local(act.starts_at).strftime("%Y-%m-%d"),
        "starts_at_1": local(act.starts_at).strftime("%H:%M:%S"),
        "ends_at_0": local(act.ends_at).strftime("%Y-%m-%d"),
        "ends_at_1": local(act.ends_at).strftime("%H:%M:%S"),
    }
    return {**data, **changes}


def test_the_activity_list_shows_prices_in_yuan_and_units_taken(admin_client):
    act = activity(stock=10)
    open_paid(MemberFactory(), act)

    text = page_text(admin_client.get("/admin/growth/groupbuyactivity/"))

    assert "双人团" in text and "¥19.90" in text and "1 / 10" in text


def test_an_edit_typed_in_yuan_saves_and_a_started_activity_refuses_a_new_price_or_fewer_units_than_sold(
    admin_client,
):
    act = activity(stock=5)
    ok = admin_client.post(
        f"/admin/growth/groupbuyactivity/{act.pk}/change/", form_data(act, name="新名字", stock_total=8)
    )
    assert ok.status_code == 302, page_text(ok)[:2000]
    act.refresh_from_db()
    assert (act.name, act.stock_total, act.group_price_fen) == ("新名字", 8, 1990)

    open_paid(MemberFactory(), act)
    for change in ({"group_price_fen": "9.90"}, {"stock_total": 0}):
        refused = admin_client.post(
            f"/admin/growth/groupbuyactivity/{act.pk}/change/", form_data(act, **change)
        )
        assert refused.status_code == 200 and "活动已开始" in page_text(refused)
    act.refresh_from_db()
    assert (act.group_price_fen, act.stock_total, act.sold_count) == (1990, 8, 1)


def test_a_new_activity_is_created_from_the_form(admin_client):
    act = activity()
    data = form_data(act, name="三人团", group_size=3)
    response = admin_client.post("/admin/growth/groupbuyactivity/add/", data)
    assert response.status_code == 302, page_text(response)[:2000]
    created = GroupBuyActivity.objects.get(name="三人团")
    assert (created.group_price_fen, created.group_size, created.sold_count) == (1990, 3, 0)


def test_a_groups_page_lists_its_members_payments_and_events(admin_client):
    act = activity(size=3)
    leader = MemberFactory(nickname="团长甲")
    group = open_paid(leader, act)
    place = join(MemberFactory(nickname="团员乙"), group)
    pay(place)

    text = page_text(admin_client.get(f"/admin/growth/group/{group.pk}/change/"))

    assert "团长甲" in text and "团员乙" in text and place.out_trade_no in text
    assert "已付款，在团中" in text and "拼团中" in text and "¥19.90" in text
    assert "joined" not in text


def test_the_refund_report_lists_refunded_places_with_their_reason_and_exports_them(admin_client):
    act = activity(size=3)
    group = open_paid(MemberFactory(nickname="张三"), act)
    Group.objects.filter(pk=group.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    from growth import services

    services.groups_fail_expired()

    text = page_text(admin_client.get("/admin/growth/refundedplace/"))
    assert "张三" in text and "拼团：未在时限内成团" in text and "¥19.90" in text

    name, rows = csv_download(admin_client.get("/admin/growth/refundedplace/export/"))
    assert name.endswith(".csv") and len(rows) == 1
    assert rows[0]["金额（元）"] == "19.90" and rows[0]["退款原因"] == "拼团：未在时限内成团"
    assert_reads_as_the_admin(rows, "group_failed", "pending")


def test_a_failed_groups_page_summarises_its_places_payments_and_refunds_at_the_top(admin_client):
    """The inlines start below the fold at 1366×768: the places, payments and refunds are summed up first."""
    act = activity(size=3)
    group = open_paid(MemberFactory(nickname="张三"), act)
    pay(join(MemberFactory(nickname="李四"), group))
    Group.objects.filter(pk=group.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    from growth import services

    services.groups_fail_expired()
    html = admin_client.get(f"/admin/growth/group/{group.pk}/change/").content.decode()

    summary = html[html.index('class="lo-places"') : html.index("</table>", html.index('class="lo-places"'))]
    assert html.index('class="lo-places"') < html.index("inline-related")
    assert "张三" in summary and "李四" in summary and summary.count("已退款") == 2
    assert summary.count("¥19.90") == 2 and "/admin/payments/paymentrefund/" in summary
