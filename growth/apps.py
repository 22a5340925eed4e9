from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GrowthConfig(AppConfig):
    name = "growth"
    verbose_name = _("Growth")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # What coupons and refunds show for what group buying gave and returned (loyalty/labels.py).
        from django.urls import reverse

        from coupons.models import SOURCES as COUPON_SOURCES
        from growth import bargains, posters, refunds, services
        from loyalty.labels import REASONS
        from mall import sellers
        from members.share_scenes import share_scene_resolver_register

        # A member registering from a poster's code is credited to its sharer (members asks at login).
        share_scene_resolver_register(posters.scene_attribution)

        COUPON_SOURCES.register([("growth", _("group buy"))])
        REASONS.register(
            [
                (services.LATE, _("group buy: the group was full or closed when the payment arrived")),
                (services.SOLD_OUT, _("group buy: sold out when the payment arrived")),
                (services.CLOSED_ACCOUNT, _("group buy: the account was closed")),
                (services.FAILED, _("group buy: the group did not fill in time")),
                (services.PAID_AFTER_CLOSE, _("group buy: paid after the order had closed")),
                (services.NOT_FULFILLABLE, _("group buy: the coupon could not be issued")),
                (bargains.SOLD_OUT, _("bargain: sold out when the payment arrived")),
                (bargains.CLOSED_ACCOUNT, _("bargain: the account was closed")),
                (bargains.NOT_CURRENT, _("bargain: paid for a purchase no longer awaited")),
                (bargains.NOT_FULFILLABLE, _("bargain: the coupon could not be issued")),
                (refunds.RETURNED, _("group buy: refunded by the merchant")),
                (refunds.BARGAIN_RETURNED, _("bargain: refunded by the merchant")),
            ]
        )
        # The mall ships what 拼团 and 砍价 sell but cannot refund it: its cancel sends the operator here.
        sellers.register(
            prefix="group:",
            seller=_("group buy"),
            refund_url=lambda key: reverse("admin:growth_place_refund", args=[int(key.split(":")[1])]),
        )
        sellers.register(
            prefix="bargain:",
            seller=_("bargain"),
            refund_url=lambda key: reverse("admin:growth_bargain_refund", args=[int(key.split(":")[1])]),
        )
