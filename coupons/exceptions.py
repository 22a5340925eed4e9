from django.utils.translation import gettext_lazy as _

from loyalty.errors import ApplicationError, NotFound


class CouponTemplateNotFound(NotFound):
    code = "coupon_template_not_found"
    default_message = _("No such coupon.")


class CouponNotFound(NotFound):
    code = "coupon_not_found"
    default_message = _("No such coupon.")


class CouponSoldOut(ApplicationError):
    code = "coupon_sold_out"
    status_code = 409
    default_message = _("This coupon has all been claimed.")


class CouponLimitReached(ApplicationError):
    code = "coupon_limit_reached"
    status_code = 409
    default_message = _("You already have as many of this coupon as allowed.")


class ClaimWindowClosed(ApplicationError):
    code = "claim_window_closed"
    status_code = 409
    default_message = _("This coupon cannot be claimed now.")


class NotInAudience(ApplicationError):
    code = "not_in_audience"
    status_code = 403
    default_message = _("This coupon is not offered to you.")


class CouponNotAvailable(ApplicationError):
    code = "coupon_not_available"
    status_code = 409
    default_message = _("This coupon cannot be used now (used, locked, expired or voided).")


class CouponNotVoidable(ApplicationError):
    code = "coupon_not_voidable"
    status_code = 409
    default_message = _("A used coupon cannot be voided.")
