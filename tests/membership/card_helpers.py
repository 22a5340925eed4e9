from datetime import timedelta

from payments import services as payments
from payments.models import Payment


def pay(purchase) -> Payment:
    payment = Payment.objects.get(out_trade_no=purchase.out_trade_no)
    payments.payment_simulate_pay(payment=payment)
    payment.refresh_from_db()
    purchase.refresh_from_db()
    return payment


DAY = timedelta(days=1)
