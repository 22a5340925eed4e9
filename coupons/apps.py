from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CouponsConfig(AppConfig):
    name = "coupons"
    verbose_name = _("Coupons")

    def ready(self):
        # The member's "me" page and overview show this app's part; members import none of it.
        from coupons import selectors as coupons_selectors
        from members import selectors as members_selectors

        members_selectors.member_summary_part_register(
            name="coupons", part=coupons_selectors.member_summary_part
        )
        members_selectors.member_overview_part_register(
            name="coupons", part=coupons_selectors.member_overview_part
        )
