from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MigrationConfig(AppConfig):
    name = "migration"
    verbose_name = _("Data migration")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # What the ledgers below show for an imported balance (loyalty/labels.py): source ``migration``.
        from coupons.models import SOURCES as COUPON_SOURCES
        from points.models import SOURCES as POINTS_SOURCES
        from stored_value.models import SOURCES as STORED_VALUE_SOURCES

        for sources in (POINTS_SOURCES, STORED_VALUE_SOURCES, COUPON_SOURCES):
            sources.register([("migration", _("imported from another system"))])
