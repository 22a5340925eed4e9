"""Demo points mall: categories, items of every kind, and redemptions through the year in every state.

Members redeem what their points cover on the days they come; points + cash
items are paid with the fake WeChat Pay (or left unpaid: the stale-payment job
closes them and gives the points back); an operator ships physical ones a day
or three later, and the nightly job completes them a week after shipping.
The latest are still waiting to be shipped, as on any working day.
"""

from datetime import datetime, time, timedelta

from django.utils import timezone

from coupons.models import CouponTemplate
from loyalty.errors import ApplicationError
from mall import services
from mall.models import Category, MallItem
from payments import services as payments
from payments.services import payments_close_stale
from points.selectors import points_balance


class Mall:
    """The demo's catalogue for one run (stocked at the start of the year), and members' redemptions."""

    def __init__(self, timeline, *, rng):
        self.timeline = timeline
        home, digital, cards = (
            Category.objects.create(name=name, sort_order=n)
            for n, name in enumerate(["家居好物", "数码", "卡券"])
        )
        cup = MallItem.objects.create(
            name="304 不锈钢保温杯", kind="physical", category=home, points=800, stock=50, per_member_limit=2
        )
        earbuds = MallItem.objects.create(
            name="蓝牙耳机（积分+现金）",
            kind="physical",
            category=digital,
            points=1_000,
            cash_fen=9_900,
            stock=20,
        )
        template = CouponTemplate.objects.create(
            name="积分兑换 10元无门槛", kind="no_threshold", amount_off_fen=1_000, total_stock=1_000,
            per_member_limit=10, claimable=False,
        )  # fmt: skip
        voucher = MallItem.objects.create(
            name="10元无门槛券", kind="coupon", category=cards, points=300, coupon_template=template, stock=500,
            period="day", per_period_limit=1,
        )  # fmt: skip
        video = MallItem.objects.create(
            name="视频会员月卡", kind="virtual_code", category=cards, points=1_500, stock=0
        )
        services.virtual_codes_import(
            item_id=video.pk, codes=[f"VIP-{rng.randrange(16**8):08X}-{n:03d}" for n in range(30)]
        )
        MallItem.objects.create(
            name="金卡会员专享 香薰礼盒",
            kind="physical",
            category=home,
            points=2_000,
            stock=10,
            min_tier_level=2,
        )
        self.items = [cup, earbuds, voucher, video]

    def plan_member(self, persona) -> None:
        """Two in five members visit the mall once their points add up, a few of them twice."""
        rng = persona.rng
        if rng.random() >= 0.4 and not persona.loyal:
            return
        moment = persona.joined + timedelta(days=rng.uniform(2, 120))
        for _ in range(3 if persona.loyal else 2 if rng.random() < 0.25 else 1):
            if moment < persona.active_until:
                self.timeline.at(moment, self._redeem(persona))
            moment += timedelta(days=rng.uniform(30, 120))

    def _redeem(self, persona):
        def redeem():
            member, rng = persona.member, persona.rng
            balance = points_balance(member_id=member.pk)["balance"]
            choices = [item for item in self.items if item.points <= balance]
            if not choices:
                return
            item = rng.choice(choices)
            address_id = None
            if item.kind == "physical":
                address_id = services.address_create(
                    member_id=member.pk, recipient=member.nickname or "会员", phone=f"138{member.pk:08d}"[:11],
                    province="浙江省", city="杭州市", district="西湖区", detail=f"文三路{rng.randint(1, 500)}号",
                ).pk  # fmt: skip
            try:
                r = services.redemption_create(
                    member=member, item_id=item.pk, idempotency_key=f"demo:{item.pk}:{rng.randrange(10**9)}",
                    address_id=address_id,
                ).redemption  # fmt: skip
            except ApplicationError:  # sold out, the limit reached: the mall says so
                return
            if r.status == "pending_payment":
                if rng.random() < 0.8:
                    payments.payment_simulate_pay(payment=payments.payment_get(out_trade_no=r.out_trade_no))
                    r.refresh_from_db()
                else:  # never paid: the stale-payment job (every 5 minutes) closes it, the points come back
                    self.timeline.at(
                        timezone.now() + timedelta(minutes=services.payment_timeout_minutes() + 4),
                        payments_close_stale,
                    )
            if r.status == "paid":  # shipped on one of the next working days, in office hours
                day = timezone.localdate() + timedelta(days=rng.randint(1, 3))
                while day.weekday() >= 5:
                    day += timedelta(days=1)
                moment = timezone.make_aware(datetime.combine(day, time(10))) + timedelta(
                    hours=rng.uniform(0, 7)
                )
                self.timeline.at(moment, self._ship(r.pk, rng))

        return redeem

    def _ship(self, redemption_id: int, rng):
        def ship():
            services.redemption_ship(
                redemption_id=redemption_id,
                carrier="顺丰速运",
                tracking_no=f"SF{rng.randrange(10**12):012d}",
                actor_id=None,
            )

        return ship

    def plan_nightly(self) -> None:
        """The job completing redemptions shipped a week ago, at 03:40 as scheduled."""
        self.timeline.every_day(time(3, 40), services.redemptions_auto_complete)
