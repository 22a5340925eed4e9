"""The analytics app's raw statements (analytics/sql.py) read what the ORM reads."""

from datetime import timedelta

import pytest

from analytics import sql
from orders.models import Order
from tests.analytics.helpers import now
from tests.factories import MemberFactory, OrderFactory

pytestmark = pytest.mark.django_db


def test_a_members_purchases_are_the_orms_orders_newest_first_with_what_was_paid():
    member = MemberFactory()
    OrderFactory(member=member, at=now() - timedelta(days=3), cash_fen=1_000)
    OrderFactory(
        member=member, at=now() - timedelta(days=2), cash_fen=2_000, stored_value_fen=500, refunded_fen=300
    )
    OrderFactory(member=member, at=now() - timedelta(days=1), cash_fen=800, refunded_fen=800)
    OrderFactory(member=MemberFactory(), at=now(), cash_fen=5)
    expected = [
        sql.Purchase(
            o.order_no,
            o.status,
            o.completed_at,
            o.stored_value_fen + o.cash_fen - o.refunded_stored_value_fen - o.refunded_cash_fen,
            o.goods_fen,
            o.completed_at is not None and o.status != "refunded",
        )
        for o in Order.objects.filter(member=member).order_by("-id")
    ]
    assert sql.member_purchases(member.pk, 100) == expected
    assert [p.counts for p in expected] == [False, True, True]
    assert sql.member_purchases(member.pk, 1) == expected[:1]
