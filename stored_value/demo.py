"""Demo recharge plans, and recharges paid through the real flow with the fake WeChat Pay."""

import random

from django.db import transaction

from members.models import Member
from payments import services as payments
from stored_value import ledger, recharges
from stored_value.models import RechargePlan, RechargeTier


def seed_stored_value(*, rng: random.Random) -> int:
    """Create the demo plans and pay recharges for about a fifth of the demo members; returns how many.

    Runs once: nothing is added when the plans exist already.
    """
    if RechargePlan.objects.exists():
        return 0
    with transaction.atomic():
        tiers = RechargePlan.objects.create(name="充值有礼", kind="tiers", min_fen=10_000, max_fen=500_000)
        for pay_fen, bonus_fen in [(50_000, 3_000), (150_000, 15_000), (300_000, 30_000)]:
            RechargeTier.objects.create(plan=tiers, pay_fen=pay_fen, bonus_fen=bonus_fen)
        first = RechargePlan.objects.create(
            name="首充特惠 充100送20",
            kind="tiers",
            min_fen=10_000,
            max_fen=10_000,
            first_recharge_only=True,
            gift_points=200,
            sort_order=-1,
        )
        RechargeTier.objects.create(plan=first, pay_fen=10_000, bonus_fen=2_000)
        RechargePlan.objects.create(name="随心充", kind="open", min_fen=100, max_fen=200_000, sort_order=10)
    members = list(Member.objects.filter(openid__startswith="demo_").order_by("pk"))
    paid = 0
    for member in rng.sample(members, k=len(members) // 5):
        plan, amount = rng.choice([(first, 10_000), (tiers, 150_000), (tiers, 50_000), (tiers, 300_000)])
        order = recharges.recharge_create(member=member, plan_id=plan.pk, amount_fen=amount)
        payments.payment_simulate_pay(payment=payments.payment_get(out_trade_no=order.out_trade_no))
        paid += 1
        if rng.random() < 0.7:  # most have bought something with it since
            ledger.stored_value_spend(
                member_id=member.pk,
                amount_fen=rng.randint(1, amount) // 100 * 100 or 100,
                idempotency_key=f"demo-spend:{order.pk}",
            )
    return paid
