from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MallConfig(AppConfig):
    name = "mall"
    verbose_name = _("Points mall")

    def ready(self):
        # What the points ledger and the coupons show for what the mall took and gave (loyalty/labels.py).
        from coupons.models import SOURCES as COUPON_SOURCES
        from loyalty.labels import REASONS
        from points.models import SOURCES as POINTS_SOURCES

        POINTS_SOURCES.register([("mall", _("points mall"))])
        COUPON_SOURCES.register([("mall", _("points mall"))])
        REASONS.register([("member", _("cancelled by the member"))])
