from django.utils.translation import gettext_lazy as _

from loyalty.errors import ApplicationError, NotFound


class OrderNotFound(NotFound):
    code = "order_not_found"
    default_message = _("No such order.")


class MemberNotFound(NotFound):
    code = "member_not_found"
    default_message = _("No such member.")


class InvalidBasket(ApplicationError):
    code = "invalid_basket"
    default_message = _("The basket is invalid: every line needs a positive price and quantity.")


class CouponNotApplicable(ApplicationError):
    code = "coupon_not_applicable"
    default_message = _("This coupon does not apply to this basket.")


class CouponsNotCombinable(ApplicationError):
    code = "coupons_not_combinable"
    default_message = _("These coupons cannot be used together.")


class CouponRepeated(ApplicationError):
    code = "coupon_repeated"
    default_message = _("The same coupon was given twice.")


class PointsDeductionDisabled(ApplicationError):
    code = "points_deduction_disabled"
    default_message = _("Points cannot be used as money off at the moment.")


class PointsNotCombinable(ApplicationError):
    code = "points_not_combinable"
    default_message = _("Points cannot be used together with a coupon.")


class PointsAboveCap(ApplicationError):
    code = "points_above_cap"
    default_message = _("More points than this order allows.")


class PointsBelowMinimum(ApplicationError):
    code = "points_below_minimum"
    default_message = _("Fewer points than the minimum that can be used.")


class InvalidPoints(ApplicationError):
    code = "invalid_points"
    default_message = _("Points must be used in whole multiples of the deduction unit.")


class StoredValueExceedsDue(ApplicationError):
    code = "stored_value_exceeds_due"
    default_message = _("The stored-value payment is larger than what is due.")


class QuoteStale(ApplicationError):
    code = "quote_stale"
    status_code = 409
    default_message = _(
        "The quote is out of date (a coupon, points or balance changed). Here is a fresh one."
    )


class OrderNotCompleted(ApplicationError):
    code = "order_not_completed"
    status_code = 409
    default_message = _("The order is not completed yet.")


class OrderCancelled(ApplicationError):
    code = "order_cancelled"
    status_code = 409
    default_message = _("The order was cancelled.")


class OrderAlreadyCompleted(ApplicationError):
    code = "order_already_completed"
    status_code = 409
    default_message = _("A completed order cannot be cancelled; refund it instead.")


class OrderFullyRefunded(ApplicationError):
    code = "order_fully_refunded"
    status_code = 409
    default_message = _("The order has been refunded in full.")


class RefundExceedsRemaining(ApplicationError):
    code = "refund_exceeds_remaining"
    status_code = 409
    default_message = _("The refund is larger than what remains of the order.")


class RefundLineNotFound(ApplicationError):
    code = "refund_line_not_found"
    default_message = _("The order has no such line.")


class CounterPaymentNotFound(NotFound):
    code = "counter_payment_not_found"
    default_message = _("No such payment awaiting your confirmation.")


class CounterPaymentDeclined(ApplicationError):
    code = "counter_payment_declined"
    status_code = 409
    default_message = _(
        "The member declined this stored-value payment. Use another order number to try again."
    )


class CounterPaymentTimedOut(ApplicationError):
    code = "counter_payment_timed_out"
    status_code = 409
    default_message = _(
        "The member did not confirm this stored-value payment in time. Use another order number to try again."
    )


class CounterPaymentDecided(ApplicationError):
    code = "counter_payment_decided"
    status_code = 409
    default_message = _("This payment was already answered.")


class MemberRequired(ApplicationError):
    code = "member_required"
    default_message = _("Give the member: member_id or member_code.")


class StaffWithoutStore(ApplicationError):
    code = "staff_without_store"
    default_message = _("A staff code needs the store code it works in.")
