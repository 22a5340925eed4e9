from django.utils.translation import gettext_lazy as _

from loyalty.errors import ApplicationError, NotFound, PermissionDenied


class NotStaff(PermissionDenied):
    code = "not_staff"
    default_message = _("Only the merchant's active staff can use the counter page.")


class StoreNotAllowed(PermissionDenied):
    code = "store_not_allowed"
    default_message = _("You do not redeem in this store.")


class CodeNotRecognised(NotFound):
    code = "code_not_recognised"
    default_message = _("No coupon, member code or pick-up code has this code.")


class NothingToRedeem(ApplicationError):
    code = "nothing_to_redeem"
    status_code = 409
    default_message = _("A member code identifies the member; there is nothing to redeem.")
