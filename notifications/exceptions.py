from django.utils.translation import gettext_lazy as _

from loyalty.errors import ApplicationError


class UnknownTemplate(ApplicationError):
    code = "unknown_template"
    default_message = _("No subscription message uses this template id.")
