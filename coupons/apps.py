from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CouponsConfig(AppConfig):
    name = "coupons"
    verbose_name = _("Coupons")

    def ready(self):
        # The member's "me" page and overview show this app's part; members import none of it.
        from coupons import selectors as coupons_selectors
        from coupons.models import occasion_label
        from members import selectors as members_selectors
        from notifications.models import KINDS
        from points.models import REFERENCE_TEXTS as POINTS_REFERENCE_TEXTS
        from points.models import SOURCES as POINTS_SOURCES

        # What the ledgers below show for this app's codes (loyalty/labels.py).
        KINDS.register([("coupons_expiring", _("coupons expiring"))])
        POINTS_SOURCES.register([("gift_pack", _("gift pack"))])
        POINTS_REFERENCE_TEXTS["gift_pack"] = occasion_label  # a pack's points name its occasion

        members_selectors.member_summary_part_register(
            name="coupons", part=coupons_selectors.member_summary_part
        )
        members_selectors.member_overview_part_register(
            name="coupons", part=coupons_selectors.member_overview_part
        )
