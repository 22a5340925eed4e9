from django.db import models
from django.utils.translation import gettext_lazy as _


class ApiClient(models.Model):
    """A server-to-server caller (the merchant's order system).

    The HMAC secret is shown once when the client is created and stored
    encrypted (Fernet, key derived from SECRET_KEY): the server needs the
    plain secret to verify signatures, so a hash would not do.
    """

    name = models.CharField(_("name"), max_length=100)
    key_id = models.CharField(_("key ID"), max_length=40, unique=True, editable=False)
    secret_encrypted = models.TextField(editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)

    # Authenticated principal for DRF (request.user) on signed requests.
    is_authenticated = True

    class Meta:
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")

    def __str__(self):
        return f"{self.name} ({self.key_id})"


class ApiNonce(models.Model):
    """Nonces seen inside the replay window; a second use is refused."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE)
    nonce = models.CharField(max_length=64)
    seen_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "nonce"], name="uniq_api_nonce")]

    def __str__(self):
        return self.nonce


class IdempotencyRecord(models.Model):
    """The first response to a value-moving POST, replayed for its key.

    ``scope`` names the caller (``member:12`` or ``client:3``) so two callers
    never share a key space.  The row is written in the same transaction as
    the request's effects, so a response is stored exactly when its effects
    are committed.
    """

    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="uniq_idempotency_scope_key")]

    def __str__(self):
        return f"{self.scope} {self.key}"


class JobRunStatus(models.TextChoices):
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class JobRun(models.Model):
    """One firing of a scheduled job, claimed by the worker that runs it (``loyalty.jobs``).

    The unique ``(task, period_start)`` makes a second trigger of the same
    firing (two beat processes, a restarted beat) a no-op counted in
    ``duplicates``.
    """

    task = models.CharField(_("task"), max_length=200)
    schedule = models.CharField(_("schedule"), max_length=200)
    period_start = models.DateTimeField(_("period start"))
    status = models.CharField(_("status"), max_length=10, choices=JobRunStatus.choices)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicate triggers"), default=0)
    worker = models.CharField(_("worker"), max_length=200, blank=True)
    result = models.JSONField(_("result"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        constraints = [
            models.UniqueConstraint(fields=["task", "period_start"], name="uniq_jobrun_task_period")
        ]
        indexes = [models.Index(fields=["started_at"], name="loyalty_jobrun_started")]

    def __str__(self):
        return f"{self.task} @ {self.period_start:%Y-%m-%d %H:%M}"


class VerifyWatermark(models.Model):
    """How far ``verify_ledgers`` has checked a ledger: its last clean run covered entries up to here.

    The next run checks only the accounts with an entry after ``last_entry_id`` (``--full``: all).
    """

    ledger = models.CharField(max_length=40, unique=True)
    last_entry_id = models.BigIntegerField(default=0)
    verified_at = models.DateTimeField()

    def __str__(self):
        return f"{self.ledger} ≤ {self.last_entry_id}"
