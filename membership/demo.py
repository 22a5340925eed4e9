"""Demo membership programme: card types, member days, cards claimed, tried and bought on their days.

Tiers come from the migration; growth, upgrades and the conditional card
(千元消费卡) follow from the orders the members complete at checkout, so tier
changes and card events are dated the day the order that caused them was.
The tier job runs each night as scheduled.
"""

from datetime import datetime, time, timedelta

from django.utils import timezone

from loyalty.errors import ApplicationError
from membership import cards
from membership.models import CardType, MemberDay
from membership.tiers import tiers_recalculate
from payments import services as payments


class Membership:
    """The demo's card types and member days for one run (created at the start of the year)."""

    def __init__(self, timeline):
        self.timeline = timeline
        self.free = CardType.objects.create(
            name="门店会员卡",
            kind="free",
            discount_bp=200,
            colour="#0F766E",
            description="扫码即领，全场9.8折",
        )
        CardType.objects.create(
            name="千元消费卡", kind="conditional", condition="paid_spend", condition_threshold=100_000,
            validity="days", valid_days=365, discount_bp=500, free_shipping=True, colour="#B45309",
            description="累计实付满¥1,000.00自动开卡：9.5折、包邮",
        )  # fmt: skip
        self.paid = CardType.objects.create(
            name="黑金PLUS月卡", kind="paid", period="month", price_fen=1_990, trial_days=7, discount_bp=1000,
            free_shipping=True, points_multiplier=2, colour="#111827", description="¥19.90/月：9折、包邮、积分翻倍",
        )  # fmt: skip
        MemberDay.objects.create(
            name="周三会员日", recurrence="weekly", weekday=2, points_multiplier=2, extra_discount_bp=500
        )
        MemberDay.objects.create(
            name="每月8号会员日", recurrence="monthly", day_of_month=8, points_multiplier="1.5"
        )

    def plan_member(self, persona) -> None:
        """Three in ten claim the store card at a shop (by its QR code, some helped by staff); one in
        sixteen tries the paid card, and some of those buy it after the trial and renew it (the loyal
        member does all of it, and renews all year)."""
        rng = persona.rng
        if rng.random() < 0.3 or persona.loyal:
            moment = persona.joined + timedelta(days=rng.uniform(0, 3 if persona.loyal else 60))
            claim = self._attempt(
                cards.card_claim,
                member_id=persona.member.pk,
                card_type_id=self.free.pk,
                channel=rng.choice(["qr:store-01", "qr:store-02", "poster:spring"]),
                staff=rng.choice(["", "s001", "s002"]),
            )
            self.timeline.at(moment, claim)
        if rng.random() < 0.0625 or persona.loyal:
            trial = persona.joined + timedelta(days=rng.uniform(3, 90))
            self.timeline.at(
                trial, self._attempt(cards.card_trial, member_id=persona.member.pk, card_type_id=self.paid.pk)
            )
            if rng.random() < 0.5 or persona.loyal:
                for month in range(12 if persona.loyal else rng.randint(1, 4)):
                    moment = trial + timedelta(days=7 + 30 * month, hours=rng.uniform(-30, -1))
                    if moment < persona.active_until:
                        self.timeline.at(moment, self._buy(persona))

    def _attempt(self, service, **kwargs):
        def attempt():
            try:
                service(**kwargs)
            except ApplicationError:  # already held, the trial used: the app says so
                pass

        return attempt

    def _buy(self, persona):
        def buy():
            try:
                purchase = cards.card_purchase_create(member=persona.member, card_type_id=self.paid.pk)
            except ApplicationError:
                return
            payments.payment_simulate_pay(payment=payments.payment_get(out_trade_no=purchase.out_trade_no))

        return buy

    def plan_nightly(self) -> None:
        """The tier job (rolling-window growth, downgrades) at 02:30 on Mondays.

        Nightly in production; in the demo's first year no growth has left the twelve-month window
        and orders upgrade as they complete, so the other nights would find nothing to do.
        """
        for day in self.timeline.days():
            if day.weekday() == 0:
                self.timeline.at(timezone.make_aware(datetime.combine(day, time(2, 30))), tiers_recalculate)
