from django.db import models
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    """A message to a member, kept in the database (the default channel).

    ``dedupe_key`` makes a reminder idempotent: a job that runs twice, or is
    killed and resumed, never sends the same reminder twice.
    """

    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(_("kind"), max_length=40, db_index=True)
    title = models.CharField(_("title"), max_length=100)
    body = models.CharField(_("message"), max_length=500)
    data = models.JSONField(_("data"), default=dict, blank=True)
    dedupe_key = models.CharField(max_length=120)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(fields=["member", "dedupe_key"], name="uniq_notification_dedupe")
        ]
        indexes = [models.Index(fields=["member", "-id"], name="notification_member_recent")]

    def __str__(self):
        return self.title
