from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self):
        # Orders hold coupons by order number: the coupons backstop must not release a lock whose
        # order is still open (coupons imports nothing of orders, so orders tells it how to ask).
        from coupons.services import coupon_lock_holder_register
        from loyalty.labels import REASONS
        from notifications.models import KINDS
        from orders.rows import coupon_lock_open_sql
        from points.models import SOURCES as POINTS_SOURCES
        from stored_value.models import SOURCES as STORED_VALUE_SOURCES

        coupon_lock_holder_register(name="orders", open_sql=coupon_lock_open_sql())
        # The messages of stored value paid at a counter (orders.counter_payments).
        KINDS.register(
            [
                ("counter_payment_confirm", _("stored value at a counter: please confirm")),
                ("counter_payment", _("stored value paid at a counter")),
            ]
        )
        # What the ledgers show for what an order spent (loyalty/labels.py).
        POINTS_SOURCES.register([("order", _("order"))])
        STORED_VALUE_SOURCES.register([("order", _("order"))])
        REASONS.register(
            [
                ("timeout", _("not paid in time: cancelled automatically")),
                ("customer", _("cancelled at the customer's request")),
            ]
        )
