from django.utils.translation import gettext_lazy as _

from loyalty.errors import ApplicationError, NotFound


class ItemNotFound(NotFound):
    code = "item_not_found"
    default_message = _("No such item in the mall.")


class RedemptionNotFound(NotFound):
    code = "redemption_not_found"
    default_message = _("No such redemption.")


class AddressNotFound(NotFound):
    code = "address_not_found"
    default_message = _("No such address.")


class SoldOut(ApplicationError):
    code = "sold_out"
    status_code = 409
    default_message = _("This item is sold out.")


class RedemptionLimitReached(ApplicationError):
    code = "redemption_limit_reached"
    status_code = 409
    default_message = _("You have redeemed this item as many times as allowed.")


class NotUnlocked(ApplicationError):
    code = "not_unlocked"
    status_code = 403
    default_message = _("Your membership tier or card does not unlock this item.")


class NotOnSale(ApplicationError):
    code = "not_on_sale"
    status_code = 409
    default_message = _("This item cannot be redeemed now.")


class AddressRequired(ApplicationError):
    code = "address_required"
    default_message = _("Choose a shipping address for this item.")


class RedemptionNotCancellable(ApplicationError):
    code = "not_cancellable"
    status_code = 409
    default_message = _("This redemption can no longer be cancelled (it was shipped or fulfilled).")


class RedemptionNotShippable(ApplicationError):
    code = "not_shippable"
    status_code = 409
    default_message = _("Only paid physical redemptions awaiting shipment can be shipped.")


class ReceiptNotConfirmable(ApplicationError):
    code = "not_confirmable"
    status_code = 409
    default_message = _("Only a shipped redemption can be confirmed as received.")


class PickupNotFound(NotFound):
    code = "pickup_not_found"
    default_message = _("No redemption has this pick-up code.")


class PickupNotReady(ApplicationError):
    code = "pickup_not_ready"
    status_code = 409
    default_message = _("This redemption cannot be picked up (not paid, cancelled or already picked up).")
