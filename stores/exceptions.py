from django.utils.translation import gettext_lazy as _

from loyalty.errors import ApplicationError, NotFound


class UsernameTaken(ApplicationError):
    code = "username_taken"
    status_code = 409
    default_message = _("This username belongs to an account that cannot be linked to a staff member.")


class StaffHasAccount(ApplicationError):
    code = "staff_has_account"
    status_code = 409
    default_message = _("This staff member already has a back-office account.")


class StoreNotFound(NotFound):
    code = "store_not_found"
    default_message = _("No store has this code.")


class StoreClosed(ApplicationError):
    code = "store_closed"
    status_code = 409
    default_message = _("This store is closed.")


class StaffNotFound(NotFound):
    code = "staff_not_found"
    default_message = _("No active staff member has this code.")


class StaffNotInStore(ApplicationError):
    code = "staff_not_in_store"
    status_code = 409
    default_message = _("This staff member does not work in this store.")
