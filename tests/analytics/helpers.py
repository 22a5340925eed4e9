"""Orders as the analytics read them, inserted directly (their settlement adds up; nothing else moves)."""

from datetime import datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

from django.utils import timezone

from orders.models import Order

SH = ZoneInfo("Asia/Shanghai")
_numbers = count(1)


def local(*args) -> datetime:
    """A merchant-local (Asia/Shanghai) time."""
    return datetime(*args, tzinfo=SH)


def purchase(member, *, at, paid_fen=10_000, stored_value_fen=0, refunded_fen=0, status=None) -> Order:
    """A completed order paid ``paid_fen`` (cash, plus ``stored_value_fen`` in stored value), ``refunded_fen`` back."""
    total = paid_fen + stored_value_fen
    if status is None:
        status = (
            "completed"
            if not refunded_fen
            else ("refunded" if refunded_fen == total else "partially_refunded")
        )
    refunded_sv = min(refunded_fen, stored_value_fen)
    return Order.objects.create(
        order_no=f"A{next(_numbers):07d}",
        member=member,
        status=status,
        request_hash="x",
        quote_hash="x",
        goods_fen=total,
        shipping_fen=0,
        benefit_discount_fen=0,
        coupon_discount_fen=0,
        shipping_discount_fen=0,
        points_used=0,
        points_fen=0,
        stored_value_fen=stored_value_fen,
        cash_fen=paid_fen,
        refunded_goods_fen=refunded_fen,
        refunded_stored_value_fen=refunded_sv,
        refunded_cash_fen=refunded_fen - refunded_sv,
        committed_at=at - timedelta(minutes=5),
        expires_at=at + timedelta(minutes=25),
        completed_at=None if status in ("committed", "cancelled") else at,
    )


def registered(member, at) -> None:
    type(member).objects.filter(pk=member.pk).update(registered_at=at)


def now() -> datetime:
    return timezone.now()
