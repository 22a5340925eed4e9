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
