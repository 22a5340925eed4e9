"""Demo coupons: templates of every kind, the new-member gift pack, claims across the year, the expiry job.

The gift pack is given by each member's first login (the policy names it);
members claim in the claim centre on the days they come, 双11 brings its own
coupons, checkout uses the best coupons a member holds, some are redeemed at
a shop's counter, and the rest expire at night when their 30 days are up.
"""

from datetime import datetime, time, timedelta

from django.utils import timezone

from coupons import services
from coupons.models import CouponTemplate, GiftPack, GiftPackItem
from loyalty.errors import ApplicationError
from membership.models import MembershipPolicy


def _local(day, at=time.min) -> datetime:
    return timezone.make_aware(datetime.combine(day, at))


class Coupons:
    """The demo's templates for one run, and the members' claims planned on the timeline."""

    def __init__(self, timeline):
        """Create the templates and the new-member gift pack (at the start of the year: the clock is set)."""
        self.timeline = timeline
        common = {"total_stock": 1000, "valid_days": 30}
        self.amount_off = CouponTemplate.objects.create(
            name="满100减20", kind="amount_off", threshold_fen=10_000, amount_off_fen=2_000, per_member_limit=2,
            **common,
        )  # fmt: skip
        self.percent_off = CouponTemplate.objects.create(
            name="全场8.8折", kind="percent_off", percent_off=12, max_discount_fen=5_000, **common
        )
        no_threshold = CouponTemplate.objects.create(
            name="5元无门槛", kind="no_threshold", amount_off_fen=500, **common
        )
        free_shipping = CouponTemplate.objects.create(
            name="包邮券", kind="free_shipping", per_member_limit=3, **common
        )
        CouponTemplate.objects.create(
            name="茶饮兑换券", kind="exchange", gift_sku="TEA-001", scope="skus", scope_values=["TEA-001"],
            claimable=False, **common,
        )  # fmt: skip
        # 双11: the latest one that started within the year (1-11 November, claimed and used then).
        sales = [day for day in timeline.days() if (day.month, day.day) == (11, 1)]
        self.sale = None
        if sales:
            self.sale = CouponTemplate.objects.create(
                name="双11 满300减60", kind="amount_off", threshold_fen=30_000, amount_off_fen=6_000,
                total_stock=200, validity="fixed", valid_from=_local(sales[-1]),
                valid_until=_local(sales[-1] + timedelta(days=11)), stacking="exclusive",
            )  # fmt: skip
        # A campaign running now (it started three days ago), for the claim centre and the to-do list.
        self.live = CouponTemplate.objects.create(
            name="限时 满200减30", kind="amount_off", threshold_fen=20_000, amount_off_fen=3_000, total_stock=300,
            validity="fixed", valid_from=timeline.end - timedelta(days=3), valid_until=timeline.end + timedelta(days=10),
        )  # fmt: skip
        pack = GiftPack.objects.create(name="新人礼包", points=200)
        GiftPackItem.objects.create(pack=pack, template=no_threshold, quantity=1)
        GiftPackItem.objects.create(pack=pack, template=free_shipping, quantity=1)
        # Chosen as an operator would (会员政策 › 新人礼包): each member's first login gives it.
        MembershipPolicy.objects.update_or_create(pk=1, defaults={"new_member_pack": pack})

    def plan_member(self, persona) -> None:
        """Two in five members hunt coupons: soon after joining, then every month or three while active.
        Active members claim 双11's coupon in the sale, and some the campaign running now."""
        rng = persona.rng
        if rng.random() < 0.4 or persona.loyal:
            moment = persona.joined + timedelta(days=rng.uniform(0, 3))
            while moment < min(persona.active_until, self.timeline.end):
                for template in rng.sample([self.amount_off, self.percent_off], k=rng.randint(1, 2)):
                    self.timeline.at(
                        moment + timedelta(minutes=rng.uniform(0, 5)), self._claim(persona, template)
                    )
                moment += timedelta(days=rng.uniform(30, 90))
        for template, share in ((self.sale, 0.5), (self.live, 0.3)):
            if template is None:
                continue
            moment = template.valid_from + timedelta(
                seconds=rng.uniform(
                    0, (min(template.valid_until, self.timeline.end) - template.valid_from).total_seconds()
                )
            )
            if persona.joined < moment < persona.active_until and rng.random() < share:
                self.timeline.at(moment, self._claim(persona, template))

    def _claim(self, persona, template):
        def claim():
            try:
                key = f"demo:{template.pk}:{timezone.now().isoformat()}"
                coupon = services.coupon_claim(
                    member=persona.member, template_id=template.pk, idempotency_key=key
                )
            except ApplicationError:  # the limit reached, sold out: the claim centre says so
                return
            if persona.rng.random() < 0.15:  # used at a shop's counter some days later
                self.timeline.at(
                    timezone.now() + timedelta(days=persona.rng.uniform(1, 25)),
                    self._redeem_at_counter(coupon),
                )

        return claim

    def _redeem_at_counter(self, coupon):
        def redeem():
            try:
                services.coupon_redeem_code(
                    code=coupon.code, order_no=f"POS-{timezone.localdate():%Y%m%d}-{coupon.pk}"
                )
            except ApplicationError:  # used online meanwhile, or expired
                pass

        return redeem

    def plan_nightly(self) -> None:
        """The expiry job at 00:10, as scheduled."""
        self.timeline.every_day(time(0, 10), services.coupons_expire_due)
