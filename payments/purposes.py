"""What each payment is for, and who is told when it is paid or closed.

An explicit table rather than signals: reading it tells every place money
arrives.  Each handler runs inside the transaction that holds the payment's
row lock, exactly once per transition; it must be idempotent all the same.
"""

from django.utils.module_loading import import_string

PURPOSES = {
    "recharge": {
        "paid": "stored_value.recharges.recharge_credit",
        "closed": "stored_value.recharges.recharge_close",
    },
    "card": {
        "paid": "membership.cards.card_purchase_credit",
        "closed": "membership.cards.card_purchase_close",
    },
    "mall": {
        "paid": "mall.services.redemption_paid",
        "closed": "mall.services.redemption_payment_closed",
    },
    "group_buy": {
        "paid": "growth.services.group_member_paid",
        "closed": "growth.services.group_member_payment_closed",
    },
    "bargain": {
        "paid": "growth.bargains.bargain_paid",
        "closed": "growth.bargains.bargain_payment_closed",
    },
}


def notify(payment, event: str) -> None:
    import_string(PURPOSES[payment.purpose][event])(payment=payment)
