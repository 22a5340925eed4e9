"""Errors of the membership programme (cards); their codes are part of the API."""

from django.utils.translation import gettext_lazy as _

from loyalty.errors import ApplicationError, NotFound


class CardTypeNotFound(NotFound):
    code = "card_type_not_found"
    default_message = _("No such membership card.")


class CardNotFound(NotFound):
    code = "card_not_found"
    default_message = _("No such membership card.")


class CardTypeUnavailable(ApplicationError):
    code = "card_type_unavailable"
    status_code = 409
    default_message = _("This membership card is not available now.")


class CardNotClaimable(ApplicationError):
    code = "card_not_claimable"
    status_code = 409
    default_message = _("This membership card is bought, not claimed.")


class CardNotForSale(ApplicationError):
    code = "card_not_for_sale"
    status_code = 409
    default_message = _("This membership card is not sold.")


class CardConditionNotMet(ApplicationError):
    code = "card_condition_not_met"
    status_code = 409
    default_message = _("You do not meet this card's condition yet.")


class CardAlreadyHeld(ApplicationError):
    code = "card_already_held"
    status_code = 409
    default_message = _("You already hold this membership card.")


class CardRevoked(ApplicationError):
    code = "card_revoked"
    status_code = 409
    default_message = _("This membership card was revoked; please contact customer service.")


class CardTrialUsed(ApplicationError):
    code = "card_trial_used"
    status_code = 409
    default_message = _("The free trial of this card has already been used.")


class CardPurchasePending(ApplicationError):
    code = "card_purchase_pending"
    status_code = 409
    default_message = _("A purchase of this card is already awaiting payment.")


class CardPurchaseNotFound(NotFound):
    code = "card_purchase_not_found"
    default_message = _("No such card purchase.")


class CardNotRefundable(ApplicationError):
    code = "card_not_refundable"
    status_code = 409
    default_message = _("Only the latest paid period of a card with unused time left can be refunded.")
