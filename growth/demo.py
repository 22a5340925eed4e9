"""Demo 拼团 and 砍价, at the end of the demo year: an open group, a complete one, a failed one refunded,
and a bargain half cut — all through the real services and the fake WeChat Pay."""

from datetime import timedelta

from django.utils import timezone

from coupons.models import CouponTemplate
from growth import bargains, services
from growth.models import BargainActivity, GroupBuyActivity
from mall.models import MallItem
from members.models import Member
from payments import services as payments
from payments.models import Payment


def _pay(out_trade_no: str) -> None:
    payments.payment_simulate_pay(payment=Payment.objects.get(out_trade_no=out_trade_no))


def seed(*, clock) -> str:
    """The scenes; returns a line for the demo's report (or why there are none).  ``clock(at)`` is the
    demo's clock (``loyalty.demo.clock``), passed in: the failed group was opened two days ago."""
    people = list(
        Member.objects.filter(openid__startswith="demo_", closed_at__isnull=True).order_by("pk")[:6]
    )
    if len(people) < 6:
        return "growth: too few members for the 拼团 and 砍价 scenes"
    now = timezone.now()
    template = CouponTemplate.objects.create(
        name="拼团 50元代金券", kind="no_threshold", amount_off_fen=5_000, total_stock=1_000, per_member_limit=10,
        claimable=False,
    )  # fmt: skip
    voucher = MallItem.objects.create(
        name="50元代金券（拼团）", kind="coupon", points=1, coupon_template=template, stock=0, is_active=False
    )
    group_buy = services.activity_save(activity=GroupBuyActivity(
        name="两人拼 50元代金券", item=voucher, group_price_fen=2_990, original_price_fen=5_000, group_size=2,
        time_limit_minutes=24 * 60, stock_total=200, per_member_limit=3, starts_at=now - timedelta(days=7),
        ends_at=now + timedelta(days=23),
    ))  # fmt: skip
    leader, friend, other, late, starter, helper = people

    def open_group(member, key):
        place = services.group_open(member=member, activity_id=group_buy.pk, idempotency_key=key).place
        _pay(place.out_trade_no)
        place.refresh_from_db()
        return place.group

    complete = open_group(leader, "demo-complete")
    _pay(
        services.group_join(
            member=friend, group_id=complete.pk, idempotency_key="demo-join"
        ).place.out_trade_no
    )
    open_group(other, "demo-open")  # waiting for a friend
    with clock(now - timedelta(days=2)):
        open_group(late, "demo-failed")  # nobody joined in 24 hours
    failed = services.groups_fail_expired()
    payments.payment_refunds_retry(older_than_minutes=0)  # as the value workers would have by now

    speaker = MallItem.objects.create(name="便携蓝牙音箱（砍价）", kind="coupon", points=1,
                                      coupon_template=template, stock=0, is_active=False)  # fmt: skip
    bargain_offer = bargains.bargain_activity_save(activity=BargainActivity(
        name="好友帮砍 50元代金券", item=speaker, original_price_fen=5_000, floor_price_fen=990, helpers_needed=4,
        time_limit_minutes=24 * 60, stock_total=100, per_member_limit=1, helper_daily_limit=3,
        starts_at=now - timedelta(days=7), ends_at=now + timedelta(days=23),
    ))  # fmt: skip
    bargain = bargains.bargain_start(
        member=starter, activity_id=bargain_offer.pk, idempotency_key="demo"
    ).place
    for member in (helper, leader):
        bargains.bargain_help(helper=member, bargain_id=bargain.pk)
    return f"growth: 拼团 groups complete 1, open 1, failed and refunded {failed}; a bargain cut 2 of 4 times"
