from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StoredValueConfig(AppConfig):
    name = "stored_value"
    verbose_name = _("Stored value")

    def ready(self):
        # The member's "me" page and overview show this app's part; members import none of it.
        from coupons.models import OCCASIONS
        from members import selectors as members_selectors
        from points.models import SOURCES as POINTS_SOURCES
        from stored_value import selectors as stored_value_selectors

        # What the points ledger shows for a recharge plan's gift points (loyalty/labels.py).
        POINTS_SOURCES.register([("recharge_gift", _("recharge gift"))])
        OCCASIONS.register([("recharge", _("recharge gift"))])

        members_selectors.member_summary_part_register(
            name="stored_value", part=stored_value_selectors.member_summary_part
        )
        members_selectors.member_overview_part_register(
            name="stored_value", part=stored_value_selectors.member_overview_part
        )
