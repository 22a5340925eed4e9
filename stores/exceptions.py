from django.utils.translation import gettext_lazy as _

from loyalty.errors import ApplicationError


class UsernameTaken(ApplicationError):
    code = "username_taken"
    status_code = 409
    default_message = _("This username belongs to an account that cannot be linked to a staff member.")


class StaffHasAccount(ApplicationError):
    code = "staff_has_account"
    status_code = 409
    default_message = _("This staff member already has a back-office account.")
