from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembershipConfig(AppConfig):
    """The membership programme (tiers, growth, cards, member days); identity stays in ``members``."""

    name = "membership"
    verbose_name = _("Membership")
