"""Demo recharge plans, and recharges paid through the real flow with the fake WeChat Pay on their days.

Stored value is spent at checkout (the orders' demo pays with it whenever a
member has some), so balances go up at a recharge and down order by order; a
few members ask for what is left of a recharge back (the unspent bonus is
forfeited), refunded through the fake WeChat Pay.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from loyalty.errors import ApplicationError
from payments import services as payments
from stored_value import recharges
from stored_value.models import RechargePlan, RechargeTier


class Recharges:
    """The demo's plans for one run (created at the start of the year), and members' recharges."""

    def __init__(self, timeline):
        self.timeline = timeline
        with transaction.atomic():
            self.tiers = RechargePlan.objects.create(
                name="充值有礼", kind="tiers", min_fen=10_000, max_fen=500_000
            )
            for pay_fen, bonus_fen in [(50_000, 3_000), (150_000, 15_000), (300_000, 30_000)]:
                RechargeTier.objects.create(plan=self.tiers, pay_fen=pay_fen, bonus_fen=bonus_fen)
            self.first = RechargePlan.objects.create(
                name="首充特惠 充100送20",
                kind="tiers",
                min_fen=10_000,
                max_fen=10_000,
                first_recharge_only=True,
                gift_points=200,
                sort_order=-1,
            )
            RechargeTier.objects.create(plan=self.first, pay_fen=10_000, bonus_fen=2_000)
            RechargePlan.objects.create(
                name="随心充", kind="open", min_fen=100, max_fen=200_000, sort_order=10
            )

    def plan_member(self, persona) -> None:
        """About one member in five recharges, some weeks after joining; a third of them again months
        later.  The loyal member tops up every season."""
        rng = persona.rng
        if persona.loyal:
            for season in range(4):
                self.timeline.at(
                    persona.joined + timedelta(days=1 + 90 * season),
                    self._recharge(persona, self.tiers, 150_000),
                )
            return
        if rng.random() >= 0.2:
            return
        moment = persona.joined + timedelta(days=rng.uniform(0, 45), minutes=rng.uniform(10, 120))
        plan, amount = rng.choice([(self.first, 10_000), (self.first, 10_000), (self.tiers, 50_000),
                                   (self.tiers, 150_000), (self.tiers, 300_000)])  # fmt: skip
        self.timeline.at(moment, self._recharge(persona, plan, amount))
        if rng.random() < 0.35:
            later = moment + timedelta(days=rng.uniform(40, 150))
            if later < persona.active_until:
                self.timeline.at(later, self._recharge(persona, self.tiers, rng.choice([50_000, 150_000])))

    def _recharge(self, persona, plan, amount_fen: int):
        def recharge():
            try:
                order = recharges.recharge_create(
                    member=persona.member, plan_id=plan.pk, amount_fen=amount_fen
                )
            except ApplicationError:  # over the balance cap, the first-recharge offer used: the app says so
                return
            payments.payment_simulate_pay(payment=payments.payment_get(out_trade_no=order.out_trade_no))
            if not persona.loyal and persona.rng.random() < 0.08:  # asks for the rest back weeks later
                later = timezone.now() + timedelta(days=persona.rng.uniform(7, 60))
                self.timeline.at(later, self._refund(order.pk))

        return recharge

    def _refund(self, order_id: int):
        def refund():
            try:
                recharges.recharge_refund(
                    order_id=order_id,
                    actor_id=None,
                    reason="会员申请退款",
                    idempotency_key=f"demo-refund:{order_id}",
                )
            except ApplicationError:  # all spent, or a gift coupon held by an open order
                return
            # WeChat Pay is asked at once; the retry job (every 10 minutes) settles what it has not taken.
            self.timeline.at(timezone.now() + timedelta(minutes=10), payments.payment_refunds_retry)

        return refund
