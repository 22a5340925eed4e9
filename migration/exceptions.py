from django.utils.translation import gettext_lazy as _

from loyalty.errors import ApplicationError


class ImportFileRefused(ApplicationError):
    code = "import_file_refused"
    default_message = _("This file cannot be imported.")


class ImportMappingInvalid(ApplicationError):
    code = "import_mapping_invalid"
    default_message = _("The column mapping is incomplete.")


class ImportNotReady(ApplicationError):
    code = "import_not_ready"
    status_code = 409
    default_message = _("This import cannot do that in its present state.")


class ImportUndoBlocked(ApplicationError):
    code = "import_undo_blocked"
    status_code = 409
    default_message = _("Some members have already used what was imported: the import cannot be undone.")
