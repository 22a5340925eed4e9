from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    """Platform pieces every app shares: API clients, idempotency, health, schedules."""

    name = "loyalty"
    verbose_name = _("Platform")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from loyalty.schedules import ensure_default_schedules

        # After the last app migrated (django_celery_beat's tables exist by then).
        post_migrate.connect(ensure_default_schedules, sender=self, dispatch_uid="loyalty-default-schedules")
