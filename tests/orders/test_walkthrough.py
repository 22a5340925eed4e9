"""The worked example of docs/rules/stored-value.md (充1500送150, a ¥1,600.00 purchase), end to end through the services."""

import pytest

from orders.models import Order
from orders.services import order_complete, order_refund
from tests.factories import MemberFactory, RechargeFactory
from tests.orders.helpers import basket, commit
from tests.stored_value.helpers import parts

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("default_rules")]


def test_recharge_1500_get_150_buy_the_1600_bundle_refund_it_and_the_parts_come_back():
    member = MemberFactory()
    RechargeFactory(member=member, amount_fen=150_000, bonus_fen=15_000)  # 充1500送150
    assert parts(member) == (150_000, 15_000)

    order = commit(member, basket(("BUNDLE", 160_000, 1), stored_value_fen=160_000))
    assert order.cash_fen == 0 and order.stored_value_fen == 160_000
    assert sum(parts(member)) == 5_000  # ¥50.00 left
    assert parts(member) == (4_546, 454)
    order_complete(order_no=order.order_no)

    refund = order_refund(order_no=order.order_no, refund_no="R1").refund

    assert refund.stored_value_fen == 160_000 and refund.cash_fen == 0
    assert parts(member) == (150_000, 15_000)  # ¥1,650.00, principal and bonus as before
    assert Order.objects.get(pk=order.pk).status == "refunded"
