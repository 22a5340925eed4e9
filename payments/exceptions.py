from django.utils.translation import gettext_lazy as _

from loyalty.errors import ApplicationError, NotFound


class PaymentUnavailable(ApplicationError):
    code = "payment_unavailable"
    status_code = 503
    default_message = _("WeChat Pay is unavailable. Nothing was charged; try again shortly.")


class PaymentNotFound(NotFound):
    code = "payment_not_found"
    default_message = _("No such payment.")


class NotificationRejected(ApplicationError):
    """Not from WeChat: bad or missing signature, unknown key serial, stale timestamp."""

    code = "invalid_signature"
    status_code = 401
    default_message = _("The notification's signature is invalid or too old.")


class NotificationInvalid(ApplicationError):
    """Signed, but it cannot be applied: undecryptable, malformed, or not matching our order."""

    code = "invalid_notification"
    default_message = _("The notification cannot be applied to any payment.")


class FakePaymentsDisabled(ApplicationError):
    code = "fake_payments_disabled"
    status_code = 403
    default_message = _("Simulated payments exist only with the fake WeChat Pay provider.")


class PaymentNotPending(ApplicationError):
    code = "payment_not_pending"
    status_code = 409
    default_message = _("This payment is no longer awaiting payment.")
