from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Coupons and member days aim at segments without importing analytics: analytics tells them how.
        from analytics import audiences, member_list

        audiences.register()
        # The member list's tier, points, balance, purchase columns and tier, tag, segment filters.
        member_list.register()
