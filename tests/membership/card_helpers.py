from datetime import timedelta

from coupons.models import GiftPack
from membership.models import CardType
from payments import services as payments
from payments.models import Payment


def card_type(kind="free", **fields) -> CardType:
    defaults = {"name": f"{kind} card", "kind": kind}
    if kind == "paid":
        defaults.update(price_fen=1_990, period="month")
    if kind == "conditional":
        defaults.update(condition="paid_spend", condition_threshold=100_000)
    return CardType.objects.create(**{**defaults, **fields})


def pack(name="开卡礼", points=0) -> GiftPack:
    return GiftPack.objects.create(name=name, points=points)


def pay(purchase) -> Payment:
    payment = Payment.objects.get(out_trade_no=purchase.out_trade_no)
    payments.payment_simulate_pay(payment=payment)
    payment.refresh_from_db()
    purchase.refresh_from_db()
    return payment


DAY = timedelta(days=1)
