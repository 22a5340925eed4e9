from django.utils.translation import gettext_lazy as _

from loyalty.errors import ApplicationError, NotFound


class InvalidPointsAmount(ApplicationError):
    code = "invalid_amount"
    default_message = _("The amount must be a whole number of points between 1 and 10^12.")


class InsufficientPoints(ApplicationError):
    code = "insufficient_points"
    status_code = 409
    default_message = _("Not enough points.")


class MemberNotFound(NotFound):
    code = "member_not_found"
    default_message = _("No such member.")


class EntryNotReversible(ApplicationError):
    code = "not_reversible"
    default_message = _("Only earn and spend entries of this member can be reversed.")


class ReversalTooLarge(ApplicationError):
    code = "reversal_exceeds_original"
    default_message = _("The reversal is larger than what is left of the original entry.")


class CheckInDisabled(ApplicationError):
    code = "checkin_disabled"
    status_code = 403
    default_message = _("Daily check-in is not available.")
