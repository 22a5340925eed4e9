from django.utils.translation import gettext_lazy as _

from loyalty.errors import ApplicationError, NotFound


class InvalidAmount(ApplicationError):
    code = "invalid_amount"
    default_message = _("The amount must be a whole number of fen between 1 and 10^12.")


class InsufficientBalance(ApplicationError):
    code = "insufficient_balance"
    status_code = 409
    default_message = _("Not enough stored value.")


class AccountFrozen(ApplicationError):
    code = "account_frozen"
    status_code = 403
    default_message = _("This stored-value account is frozen.")


class MemberNotFound(NotFound):
    code = "member_not_found"
    default_message = _("No such member.")


class EntryNotRefundable(ApplicationError):
    code = "not_refundable"
    default_message = _("Only spends of this member can be refunded.")


class RefundTooLarge(ApplicationError):
    code = "refund_exceeds_original"
    default_message = _("The refund is larger than what is left of the original spend.")


class PlanUnavailable(ApplicationError):
    code = "plan_unavailable"
    default_message = _("This recharge plan is not available.")


class PlanAlreadyUsed(ApplicationError):
    code = "plan_already_used"
    status_code = 409
    default_message = _("You have already used this recharge plan as often as it allows.")


class AmountOutOfRange(ApplicationError):
    code = "amount_out_of_range"
    default_message = _("The amount is outside what this plan accepts.")


class BalanceCapExceeded(ApplicationError):
    code = "balance_cap_exceeded"
    status_code = 409
    default_message = _("This recharge would take your balance above the allowed maximum.")


class RechargeNotFound(NotFound):
    code = "recharge_not_found"
    default_message = _("No such recharge order.")


class NothingToRefund(ApplicationError):
    code = "nothing_to_refund"
    status_code = 409
    default_message = _("Nothing of this recharge is left to refund.")


class RechargeNotCredited(ApplicationError):
    code = "recharge_not_credited"
    status_code = 409
    default_message = _("Only a credited recharge can be refunded.")
