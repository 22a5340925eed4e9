"""An import of another system's members and balances: the job, its rows' results, the saved mappings.

A job moves draft → validated (dry run done) → committing → committed, and a committed job can be
undone (→ undone).  Its rows are read and checked once, by the dry run, which stores each row's
normalised values (``ImportRow.data``) and its problems; the commit posts from those, so what was
checked is what is posted.  The file's SHA-256 and the row's number make every posting's
idempotency key (``migration.imports.row_key``): the same file imported again posts nothing twice.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class MatchRule(models.TextChoices):
    SKIP = "skip", _("skip members that already exist")
    ADD = "add", _("add the file's balances to members that already exist")


class TotalPolicy(models.TextChoices):
    PRINCIPAL = "principal", _("a stored-value total is all principal")
    BONUS = "bonus", _("a stored-value total is all bonus")


class JobStatus(models.TextChoices):
    DRAFT = "draft", _("uploaded")
    VALIDATING = "validating", _("dry run running")
    VALIDATED = "validated", _("dry run done")
    COMMITTING = "committing", _("importing")
    COMMITTED = "committed", _("imported")
    UNDONE = "undone", _("undone")


class ImportJob(models.Model):
    """One file imported by an operator: its mapping, its dry run's figures and its commit's progress."""

    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    filename = models.CharField(_("file name"), max_length=200)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    encoding = models.CharField(_("read as"), max_length=16, blank=True)
    headers = models.JSONField(_("columns"), default=list)
    mapping = models.JSONField(_("mapping"), default=dict, help_text=_("File column → field."))
    preset = models.ForeignKey(
        "MappingPreset", verbose_name=_("mapping preset"), null=True, blank=True, on_delete=models.SET_NULL
    )
    match_rule = models.CharField(
        _("existing members"), max_length=8, choices=MatchRule.choices, default=MatchRule.SKIP
    )
    total_policy = models.CharField(
        _("stored-value total"), max_length=10, choices=TotalPolicy.choices, default=TotalPolicy.PRINCIPAL
    )
    status = models.CharField(_("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.DRAFT)
    row_count = models.PositiveIntegerField(_("rows"), default=0)
    ok_rows = models.PositiveIntegerField(_("rows without problems"), default=0)
    warning_rows = models.PositiveIntegerField(_("rows with notes"), default=0)
    error_rows = models.PositiveIntegerField(_("rows with errors"), default=0)
    totals = models.JSONField(_("totals"), default=dict)
    errors_accepted = models.BooleanField(
        _("errors accepted"),
        default=False,
        help_text=_("Commit the good rows and leave the rows with errors."),
    )
    committed_rows = models.PositiveIntegerField(_("rows imported"), default=0)
    next_row = models.PositiveIntegerField(_("resume from row"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("operator"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    validated_at = models.DateTimeField(_("dry run at"), null=True, blank=True)
    committed_at = models.DateTimeField(_("imported at"), null=True, blank=True)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("undone by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-id"]

    def __str__(self):
        return f"#{self.pk} {self.filename}"

    @property
    def can_commit(self) -> bool:
        return self.status == JobStatus.VALIDATED and (self.error_rows == 0 or self.errors_accepted)

    @property
    def progress_percent(self) -> int:
        """How much of the file the commit has been through (rows are numbered from 2, under the headers)."""
        if self.status in (JobStatus.COMMITTED, JobStatus.UNDONE):
            return 100
        return min(100, round(100 * max(self.next_row - 2, 0) / (self.row_count or 1)))


class RowStatus(models.TextChoices):
    OK = "ok", _("ready")
    WARNING = "warning", _("ready, with a note")
    ERROR = "error", _("error: will not be imported")
    SKIP = "skip", _("existing member: skipped")
    IMPORTED = "imported", _("imported")
    SKIPPED = "skipped", _("skipped")


class ImportRow(models.Model):
    """One data row of the file (``number`` 2 is the row under the headers, as a spreadsheet counts)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rows")
    number = models.PositiveIntegerField(_("row"))
    status = models.CharField(_("status"), max_length=8, choices=RowStatus.choices)
    #: [[column, value, message], …] as the operator reads them
    problems = models.JSONField(_("problems"), default=list)
    data = models.JSONField(default=dict)  # the row's normalised values, posted by the commit
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), null=True, blank=True, on_delete=models.PROTECT
    )
    created_member = models.BooleanField(_("member created"), default=False)
    postings = models.JSONField(default=dict)  # entry ids posted: {"points": [..], "stored_value": id, …}

    class Meta:
        verbose_name = _("import row")
        verbose_name_plural = _("import rows")
        ordering = ["job", "number"]
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="migration_row_once")]
        indexes = [models.Index(fields=["job", "status"], name="migration_row_status")]

    def __str__(self):
        return f"{self.job_id}:{self.number}"


class ImportChunk(models.Model):
    """One range of a committing job's rows, committed in one transaction by whichever committer claims
    it (``SELECT … FOR UPDATE SKIP LOCKED``): several committers work on one job at once, and a killed
    one's chunk, its transaction rolled back, is claimed again.  ``done_at`` is set in the chunk's own
    transaction, with ``imported`` (the rows it imported: the job's progress is the sum)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="chunks")
    first_row = models.PositiveIntegerField()
    last_row = models.PositiveIntegerField()
    imported = models.PositiveIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "first_row"]
        constraints = [models.UniqueConstraint(fields=["job", "first_row"], name="migration_chunk_once")]
        indexes = [
            models.Index(
                fields=["job", "first_row"],
                name="migration_chunk_undone",
                condition=models.Q(done_at__isnull=True),
            )
        ]

    def __str__(self):
        return f"{self.job_id}:{self.first_row}-{self.last_row}"


class MappingPreset(models.Model):
    """A named mapping from an old system's column headers to fields, offered for the next file."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    mapping = models.JSONField(_("mapping"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("operator"), on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("mapping preset")
        verbose_name_plural = _("mapping presets")
        ordering = ["name"]

    def __str__(self):
        return self.name


class ExportFormat(models.TextChoices):
    CSV = "csv", _("CSV (UTF-8, opens in Excel)")
    XLSX = "xlsx", _("Excel workbook (XLSX)")


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("writing the file")
    DONE = "done", _("ready to download")
    FAILED = "failed", _("failed")
    EXPIRED = "expired", _("file deleted")


class ExportJob(models.Model):
    """One member export written by a worker to a file under MEDIA_ROOT, downloaded from its admin page.

    A large shop's export takes minutes (past the web's request timeout), so the admin only starts it.
    The file is personal information: it is served by the download view to whoever may export, never
    by a MEDIA URL, and deleted ``EXPORT_RETENTION_DAYS`` after it was written.
    """

    format = models.CharField(_("file format"), max_length=4, choices=ExportFormat.choices)
    filters = models.CharField(_("the member list's filter"), max_length=2000, blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    as_of = models.DateTimeField(_("as of"), help_text=_("Lots, cards and coupons usable at this time."))
    rows_total = models.PositiveIntegerField(_("members to export"), default=0)
    rows_done = models.PositiveIntegerField(_("members written"), default=0)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    file = models.CharField(max_length=200, blank=True)  # under MEDIA_ROOT; never a public URL
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    error = models.CharField(_("error"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("operator"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    expired_at = models.DateTimeField(_("file deleted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("member export")
        verbose_name_plural = _("member exports")
        ordering = ["-id"]
        indexes = [models.Index(fields=["status"], name="migration_export_status")]

    def __str__(self):
        return f"#{self.pk} {self.get_format_display()}"

    @property
    def running(self) -> bool:
        return self.status in (ExportStatus.QUEUED, ExportStatus.RUNNING)
