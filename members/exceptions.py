from django.utils.translation import gettext_lazy as _

from loyalty.errors import ApplicationError, NotFound, ServiceUnavailable


class WechatUnavailable(ServiceUnavailable):
    code = "wechat_unavailable"
    default_message = _("WeChat could not be reached. Please try again shortly.")


class MiniProgramCodeRefused(ServiceUnavailable):
    """WeChat refused to draw a mini-program code (the page is not published, a bad scene): the merchant's set-up."""

    code = "wxacode_refused"
    default_message = _("WeChat refused to make the mini-program code. Please tell the merchant.")


class WechatCodeInvalid(ApplicationError):
    code = "wechat_code_invalid"
    default_message = _("The WeChat code is invalid or has already been used.")


class PhoneTaken(ApplicationError):
    code = "phone_taken"
    status_code = 409
    default_message = _("This phone number is bound to another member.")


class DevLoginDisabled(NotFound):
    pass


class ReferrerNotFound(ApplicationError):
    code = "referrer_not_found"
    default_message = _("No member has this invite code.")


class StoredValueRemaining(ApplicationError):
    code = "stored_value_remaining"
    status_code = 409
    default_message = _(
        "Your stored-value balance is not zero. Spend it, or ask the merchant to refund it, before closing your account."
    )


class RechargePending(ApplicationError):
    code = "recharge_pending"
    status_code = 409
    default_message = _("A recharge is awaiting payment. Try again once it is paid or closed.")


class BirthdayChangeLimited(ApplicationError):
    code = "birthday_change_limited"
    status_code = 409
    default_message = _("The birthday can be changed once a year.")


class OrderInProgress(ApplicationError):
    code = "order_in_progress"
    status_code = 409
    default_message = _("An order is still awaiting payment. Try again once it is paid or cancelled.")


class RedemptionInProgress(ApplicationError):
    code = "redemption_in_progress"
    status_code = 409
    default_message = _("A points-mall redemption is still awaiting payment or shipment.")


class MemberClosed(ApplicationError):
    """The member closed their account (注销): it receives nothing any more, and buys nothing as a member."""

    code = "member_closed"
    status_code = 409
    default_message = _("This member has closed their account.")


class MemberCodeInvalid(NotFound):
    """No such code: mistyped, forged, another merchant's, or pruned long ago."""

    code = "member_code_invalid"
    default_message = _("This member code is not valid.")


class MemberCodeExpired(ApplicationError):
    code = "member_code_expired"
    status_code = 409
    default_message = _("This member code has expired. Ask the member to show a fresh one.")


class MemberCodeUsed(ApplicationError):
    code = "member_code_used"
    status_code = 409
    default_message = _("This member code was already used for another order.")
