"""Reads of the orders app for the API and the admin."""

from orders.models import Order, OrderStatus


def member_orders(*, member_id: int):
    return Order.objects.filter(member_id=member_id).prefetch_related("lines")


def order_detail(*, order_no: str, member_id: int | None = None) -> Order | None:
    """One order with its lines, refunds and events; another member's order is None (a 404)."""
    orders = Order.objects.filter(order_no=order_no).prefetch_related("lines", "refunds__lines", "events")
    if member_id is not None:
        orders = orders.filter(member_id=member_id)
    return orders.first()


def member_has_open_orders(*, member_id: int) -> bool:
    """Whether an order of the member is committed and not yet completed or cancelled."""
    return Order.objects.filter(member_id=member_id, status=OrderStatus.COMMITTED).exists()
