from itertools import count

from orders.models import Order, OrderEvent, Refund
from orders.quote import BasketInput, LineInput, compute_quote
from orders.services import order_commit
from points.models import PointsEntry
from stored_value.models import StoredValueEntry
from tests.helpers import points_of
from tests.stored_value.helpers import parts

_orders = count(1)


def basket(*lines, shipping_fen=0, coupon_ids=None, points=0, stored_value_fen=0) -> BasketInput:
    """``lines`` as (sku, unit_price_fen, quantity[, category])."""
    return BasketInput(
        lines=tuple(
            LineInput(sku=sku, name=sku, unit_price_fen=price, quantity=qty, category=rest[0] if rest else "")
            for sku, price, qty, *rest in lines
        ),
        shipping_fen=shipping_fen,
        coupon_ids=None if coupon_ids is None else tuple(coupon_ids),
        points=points,
        stored_value_fen=stored_value_fen,
    )


def commit(member, b: BasketInput, order_no=None):
    order_no = order_no or f"T{next(_orders):06d}"
    quote = compute_quote(member_id=member.pk, basket=b)
    return order_commit(member_id=member.pk, order_no=order_no, basket=b, quote_hash=quote.fingerprint).order


def snapshot(member) -> tuple:
    """Everything an order operation could change for a member."""
    from coupons.models import Coupon, CouponEvent

    return (
        parts(member),
        points_of(member),
        PointsEntry.objects.filter(account__member=member).count(),
        StoredValueEntry.objects.filter(account__member=member).count(),
        list(Order.objects.filter(member=member).order_by("id").values_list("order_no", "status")),
        Refund.objects.filter(order__member=member).count(),
        OrderEvent.objects.filter(order__member=member).count(),
        list(Coupon.objects.filter(member=member).order_by("id").values_list("id", "status", "order_no")),
        CouponEvent.objects.filter(coupon__member=member).count(),
    )
