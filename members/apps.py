from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("Members")

    def ready(self):
        from loyalty.labels import REASONS
        from members import (
            closure,
            schema,  # noqa: F401  (registers the OpenAPI auth extensions)
        )

        # What a closure writes on the entries and events it leaves (loyalty/labels.py).
        REASONS.register([(closure.REASON, _("account closed"))])
