"""拼团 test helpers: an activity, members, and paying a place as WeChat Pay's notification would."""

from datetime import timedelta

from django.utils import timezone

from growth import services
from growth.models import Group, GroupBuyActivity, GroupMember
from mall.models import Redemption
from payments import services as payments
from payments.models import Payment, PaymentRefund
from tests.factories import CouponTemplateFactory, MallItemFactory


def activity(*, kind="coupon", size=2, stock=100, price=1990, **fields) -> GroupBuyActivity:
    now = timezone.now()
    if kind == "coupon":
        item = MallItemFactory(
            name="拼团券", kind="coupon", coupon_template=CouponTemplateFactory(total_stock=10_000)
        )
    else:
        item = MallItemFactory(name="保温杯", kind="physical", stock=0)
    defaults = {
        "name": "双人团",
        "item": item,
        "group_price_fen": price,
        "original_price_fen": price * 2,
        "group_size": size,
        "time_limit_minutes": 60,
        "stock_total": stock,
        "starts_at": now - timedelta(days=1),
        "ends_at": now + timedelta(days=7),
    }
    return GroupBuyActivity.objects.create(**{**defaults, **fields})


def pay(place: GroupMember) -> Payment:
    """The member pays the place's payment; WeChat Pay's signed notification reaches our handler."""
    payment = Payment.objects.get(out_trade_no=place.out_trade_no)
    payments.payment_simulate_pay(payment=payment)
    payment.refresh_from_db()
    return payment


def open_paid(member, act, key="open", **kwargs) -> Group:
    place = services.group_open(member=member, activity_id=act.pk, idempotency_key=key, **kwargs).place
    pay(place)
    place.refresh_from_db()
    return place.group


def join(member, group, key="join", **kwargs) -> GroupMember:
    return services.group_join(member=member, group_id=group.pk, idempotency_key=key, **kwargs).place


def state(act) -> tuple:
    """Everything a refused open or join must leave untouched."""
    act.refresh_from_db()
    return (
        act.sold_count,
        GroupMember.objects.count(),
        Group.objects.count(),
        Payment.objects.count(),
        PaymentRefund.objects.count(),
        Redemption.objects.count(),
    )
