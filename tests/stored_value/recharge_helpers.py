from payments import services as payments
from payments.models import Payment
from stored_value import recharges
from stored_value.models import RechargePlan, RechargeTier


def tier_plan(name, *tiers, **fields) -> RechargePlan:
    plan = RechargePlan.objects.create(
        name=name, kind="tiers", **{"min_fen": 100, "max_fen": 500_000, **fields}
    )
    for pay_fen, bonus_fen in tiers:
        RechargeTier.objects.create(plan=plan, pay_fen=pay_fen, bonus_fen=bonus_fen)
    return plan


def plan_1500_150(**fields) -> RechargePlan:
    return tier_plan("充1500送150", (150_000, 15_000), **fields)


def start_recharge(member, plan, amount_fen):
    """A recharge as the API starts it: the order committed, then its payment opened at WeChat Pay."""
    order = recharges.recharge_create(member=member, plan_id=plan.pk, amount_fen=amount_fen)
    payment = Payment.objects.get(out_trade_no=order.out_trade_no)
    payments.payment_prepay(payment=payment)
    payment.refresh_from_db()
    return order, payment
