from django.utils.translation import gettext_lazy as _

from loyalty.errors import ApplicationError


class InvalidSegmentRule(ApplicationError):
    code = "invalid_segment_rule"
    status_code = 400
    default_message = _("The segment rule is invalid.")


class InvalidDateRange(ApplicationError):
    code = "invalid_date_range"
    status_code = 400
    default_message = _("The date range is invalid.")
