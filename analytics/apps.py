from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Coupons and member days aim at segments without importing analytics: analytics tells them how.
        from analytics import audiences, member_list, tagging
        from members.tagging import member_tagger_register

        audiences.register()
        # The member list's tier, points, balance, purchase columns and tier, tag, segment filters.
        member_list.register()
        # An import's tags (migration, analytics' sibling) are put on through members.tagging.
        member_tagger_register(tagger=tagging.member_tag_by_names)
