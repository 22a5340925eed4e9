"""Orders as reports and admin pages read them, inserted directly: no ledger moves (checkout: ``order_commit``)."""

from datetime import timedelta

import factory
from django.utils import timezone

from orders.models import Order
from tests.factories.members import MemberFactory


def _status(order) -> str:
    if not order.refunded_fen:
        return "completed"
    return "refunded" if order.refunded_fen == order.goods_fen else "partially_refunded"


class OrderFactory(factory.django.DjangoModelFactory):
    """An order completed ``at`` (default now), paid ``cash_fen`` plus ``stored_value_fen``, ``refunded_fen`` back."""

    class Meta:
        model = Order

    class Params:
        at = factory.LazyFunction(timezone.now)
        refunded_fen = 0

    order_no = factory.Sequence(lambda n: f"A{n:07d}")
    member = factory.SubFactory(MemberFactory)
    status = factory.LazyAttribute(_status)
    request_hash = "x"
    quote_hash = "x"
    cash_fen = 10_000
    stored_value_fen = 0
    goods_fen = factory.LazyAttribute(lambda o: o.cash_fen + o.stored_value_fen)
    shipping_fen = 0
    benefit_discount_fen = 0
    coupon_discount_fen = 0
    shipping_discount_fen = 0
    points_used = 0
    points_fen = 0
    refunded_goods_fen = factory.SelfAttribute("refunded_fen")
    refunded_stored_value_fen = factory.LazyAttribute(lambda o: min(o.refunded_fen, o.stored_value_fen))
    refunded_cash_fen = factory.LazyAttribute(lambda o: o.refunded_fen - o.refunded_stored_value_fen)
    committed_at = factory.LazyAttribute(lambda o: o.at - timedelta(minutes=5))
    expires_at = factory.LazyAttribute(lambda o: o.at + timedelta(minutes=25))
    completed_at = factory.LazyAttribute(lambda o: None if o.status in ("committed", "cancelled") else o.at)
