from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StoredValueConfig(AppConfig):
    name = "stored_value"
    verbose_name = _("Stored value")
