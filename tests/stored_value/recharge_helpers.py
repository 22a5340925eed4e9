from payments import services as payments
from payments.models import Payment
from stored_value import recharges


def start_recharge(member, plan, amount_fen):
    """A recharge as the API starts it: the order committed, then its payment opened at WeChat Pay."""
    order = recharges.recharge_create(member=member, plan_id=plan.pk, amount_fen=amount_fen)
    payment = Payment.objects.get(out_trade_no=order.out_trade_no)
    payments.payment_prepay(payment=payment)
    payment.refresh_from_db()
    return order, payment
