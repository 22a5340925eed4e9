"""Figures per store and per staff member: exact on a small set, refunds netted, on the dashboard and in CSV.

Store A (西湖店) with associate X, store B (滨江店) with clerk Y, and online
activity that belongs to no store.  Everything happens today, plus one order
40 days ago that a range of today leaves out.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from analytics import selectors
from analytics.selectors import local_today
from coupons.models import CouponEvent
from membership.models import MembershipCard
from orders.models import Order
from stored_value.models import RechargeOrder
from stores.models import StoreRole
from tests.factories import (
    CardTypeFactory,
    CouponFactory,
    MemberFactory,
    OrderFactory,
    RechargeFactory,
    StaffFactory,
    StoreFactory,
)
from tests.helpers import csv_download, page_text
from tests.stores.helpers import create_role_groups, staff_user

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/analytics/dailymetrics/"
FIELDS = "new_members orders sales_fen recharges recharge_fen coupons_used cards_claimed cards_sold".split()


@pytest.fixture
def shops():
    create_role_groups()
    a, b = StoreFactory(code="A", name="西湖店"), StoreFactory(code="B", name="滨江店")
    x = StaffFactory(code="X1", name="导购小夏", stores={a: StoreRole.ASSOCIATE})
    y = StaffFactory(code="Y1", name="店员小叶", stores={b: StoreRole.CLERK})
    now = timezone.now()

    # registrations: two at A (one brought by X), one at B (by Y), one online
    MemberFactory(registration_store=a, home_store=a, registration_staff=x)
    MemberFactory(registration_store=a, home_store=a)
    MemberFactory(registration_store=b, home_store=b, registration_staff=y)
    member = MemberFactory()

    # purchases: A ¥100 + (¥50 less ¥20 refunded), a fully refunded one that does not count, one long ago
    OrderFactory(member=member, store=a, staff=x, cash_fen=10_000)
    OrderFactory(member=member, store=a, staff=x, cash_fen=5_000, refunded_fen=2_000)
    OrderFactory(member=member, store=a, staff=x, cash_fen=3_000, refunded_fen=3_000)
    OrderFactory(member=member, store=a, staff=x, cash_fen=7_000, at=now - timedelta(days=40))
    b_order = OrderFactory(member=member, store=b, staff=y, cash_fen=4_000, stored_value_fen=4_000)
    refunded = OrderFactory(member=member, store=b, staff=y, cash_fen=1_000, refunded_fen=1_000)
    OrderFactory(member=member, cash_fen=99_900)  # online

    # recharges: A ¥100 by X; B ¥200 of which ¥50 refunded; one online
    RechargeFactory(member=member, store=a, staff=x, amount_fen=10_000, credited_at=now)
    RechargeFactory(member=member, store=b, amount_fen=20_000, credited_at=now)
    RechargeOrder.objects.filter(store=b).update(refunded_fen=5_000, status="refunded")
    RechargeFactory(member=member, amount_fen=50_000, credited_at=now)

    # coupons: one used at A's counter by X; one used on B's order (its store and staff from the order,
    # even when its event carries the store too: counted once); none on an order refunded in full
    counter = CouponFactory(member=member)
    CouponEvent.objects.create(coupon=counter, kind="used", store=a, staff=x)
    on_order = CouponFactory(member=member)
    Order.objects.filter(pk=b_order.pk).update(coupon_ids=[on_order.pk])
    CouponEvent.objects.create(coupon=on_order, kind="used", order_no=b_order.order_no, store=b)
    given_back = CouponFactory(member=member)
    Order.objects.filter(pk=refunded.pk).update(coupon_ids=[given_back.pk])
    CouponEvent.objects.create(coupon=CouponFactory(member=member), kind="used")  # online, no order

    # cards: claimed at A through X's code, bought at B, and one with an old free-text tag
    free, paid = CardTypeFactory(kind="free"), CardTypeFactory(kind="paid")
    card = dict(member=member, valid_from=now, valid_until=None)
    MembershipCard.objects.create(card_type=free, source="claim", store=a, staff="X1", **card)
    MembershipCard.objects.create(card_type=paid, source="purchase", store=b, **card)
    MembershipCard.objects.create(
        card_type=CardTypeFactory(kind="free"), source="claim", staff="王店员", **card
    )
    return a, b, x, y


def figures(rows) -> dict:
    return {r.code: {f: getattr(r, f) for f in FIELDS} for r in rows}


def test_each_store_has_exactly_its_figures_with_refunds_netted(shops):
    today = local_today()

    got = figures(selectors.store_figures(start=today, end=today))

    assert got == {
        "A": dict(new_members=2, orders=2, sales_fen=13_000, recharges=1, recharge_fen=10_000,
                  coupons_used=1, cards_claimed=1, cards_sold=0),
        "B": dict(new_members=1, orders=1, sales_fen=8_000, recharges=1, recharge_fen=15_000,
                  coupons_used=1, cards_claimed=0, cards_sold=1),
    }  # fmt: skip


def test_each_staff_member_has_exactly_what_they_brought_or_served(shops):
    today = local_today()

    got = figures(selectors.staff_figures(start=today, end=today))

    assert got == {
        "X1": dict(new_members=1, orders=2, sales_fen=13_000, recharges=1, recharge_fen=10_000,
                   coupons_used=1, cards_claimed=1, cards_sold=0),
        "Y1": dict(new_members=1, orders=1, sales_fen=8_000, recharges=0, recharge_fen=0,
                   coupons_used=1, cards_claimed=0, cards_sold=0),
    }  # fmt: skip


def test_the_range_and_the_store_filter_limit_the_facts(shops):
    a, b, _x, _y = shops
    today = local_today()

    longer = figures(selectors.store_figures(start=today - timedelta(days=45), end=today))
    only_b = figures(selectors.staff_figures(start=today, end=today, store_ids=[b.pk]))
    yesterday = figures(
        selectors.store_figures(start=today - timedelta(days=1), end=today - timedelta(days=1))
    )

    assert (longer["A"]["orders"], longer["A"]["sales_fen"]) == (3, 20_000)
    assert set(only_b) == {"Y1"}  # X works only at A and did nothing at B
    assert all(v == 0 for row in yesterday.values() for v in row.values())


def test_the_sql_agrees_with_the_orm_on_sales(shops):
    a, _b, _x, _y = shops
    today = local_today()
    orm = sum(
        o.cash_fen + o.stored_value_fen - o.refunded_cash_fen - o.refunded_stored_value_fen
        for o in Order.objects.filter(store=a, completed_at__date=today).exclude(status="refunded")
    )

    assert figures(selectors.store_figures(start=today, end=today))["A"]["sales_fen"] == orm


def test_the_dashboard_shows_the_stores_and_filters_by_store(admin_client, shops):
    a, b, _x, _y = shops
    today = local_today()

    everything = page_text(admin_client.get(DASHBOARD, {"start": today, "end": today}))
    only_b = admin_client.get(DASHBOARD, {"start": today, "end": today, "store": b.pk})

    assert "西湖店（A）" in everything and "滨江店（B）" in everything and "¥130.00" in everything
    assert [r["code"] for r in only_b.context["store_rows"]] == ["B"]
    assert "store=" in page_text(only_b) or only_b.context["store_query"] == f"&store={b.pk}"


def test_the_store_and_staff_csv_have_chinese_headers_and_amounts_in_yuan(admin_client, shops):
    today = local_today()

    _name, stores = csv_download(
        admin_client.get(DASHBOARD, {"start": today, "end": today, "export": "stores"})
    )
    _name, staff = csv_download(
        admin_client.get(DASHBOARD, {"start": today, "end": today, "export": "staff"})
    )

    a = next(r for r in stores if r["门店编码"] == "A")
    assert (a["门店"], a["消费笔数"], a["净实付（元）"], a["充值（扣除退款）（元）"]) == (
        "西湖店",
        "2",
        "130.00",
        "100.00",
    )
    assert {r["工号"]: r["用券数"] for r in staff} == {"X1": "1", "Y1": "1"}


def test_a_store_manager_sees_only_their_stores_figures_and_not_the_merchants(client, shops):
    a, b, _x, _y = shops
    manager = staff_user({a: StoreRole.MANAGER}, username="dz-a")
    client.force_login(manager)
    today = local_today()

    page = client.get(DASHBOARD, {"start": today, "end": today})
    asking_for_b = client.get(DASHBOARD, {"start": today, "end": today, "store": b.pk})
    _name, csv_rows = csv_download(
        client.get(DASHBOARD, {"start": today, "end": today, "export": "stores", "store": b.pk})
    )
    merchant_csv = client.get(DASHBOARD, {"start": today, "end": today, "export": "daily"})

    assert page.status_code == 200 and page.templates[0].name == "admin/analytics/store_report.html"
    assert [r["code"] for r in page.context["store_rows"]] == ["A"]
    assert [r["code"] for r in asking_for_b.context["store_rows"]] == ["A"]
    assert [r["门店编码"] for r in csv_rows] == ["A"]
    assert merchant_csv["Content-Type"].startswith("text/html")  # the merchant's reports are not theirs
    assert User.objects.get(username="dz-a").has_perm("analytics.view_dailymetrics")


def test_the_dashboards_card_claims_name_a_staff_member_whose_code_the_tag_is(admin_client, shops):
    from analytics.reports import reports_refresh

    today = local_today()
    reports_refresh(start=today, end=today)

    text = page_text(admin_client.get(DASHBOARD, {"start": today, "end": today}))

    assert "导购小夏（X1）" in text  # the tag is X's 工号
    assert "员工编号 王店员" in text  # an old free-text tag stays as it was
