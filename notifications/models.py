from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from loyalty.labels import CodeLabels

#: The kinds of reminder: each app that sends one registers its kind at startup (points ``points_expiring``,
#: coupons ``coupons_expiring``, membership its tier, card and member-day messages).
KINDS = CodeLabels()


def kind_choices():
    return KINDS.choices()


class Notification(models.Model):
    """A message to a member, kept in the database (the default channel).

    ``dedupe_key`` makes a reminder idempotent: a job that runs twice, or is
    killed and resumed, never sends the same reminder twice.
    """

    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(_("kind"), max_length=40, db_index=True, choices=kind_choices)
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


# --- the WeChat subscription-message channel (订阅消息) ------------------------------------------


class WechatTemplate(models.Model):
    """Which WeChat subscription-message template carries a notification kind, and how.

    ``field_map`` maps each template keyword (``thing1``, ``number2``, ``time3`` …)
    to a text with placeholders: ``{title}``, ``{body}`` or any key of the
    draft's data, e.g. ``{points}``; ``{expires_at|date}`` and
    ``{expires_at|datetime}`` format a timestamp in the merchant's time zone.
    """

    kind = models.CharField(
        _("notification kind"),
        max_length=40,
        unique=True,
        choices=kind_choices,
        help_text=_("The kind of reminder this template carries."),
    )
    template_id = models.CharField(
        _("WeChat template id"), max_length=128, help_text=_("From the mini-program console (订阅消息).")
    )
    page = models.CharField(
        _("page"),
        max_length=200,
        blank=True,
        help_text=_("The mini-program page a tap on the message opens, e.g. pages/points/index."),
    )
    field_map = models.JSONField(
        _("field mapping"),
        default=dict,
        help_text=_('Template keyword to text, e.g. {"thing1": "{title}", "number2": "{points}"}.'),
    )
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("WeChat message template")
        verbose_name_plural = _("WeChat message templates")
        indexes = [models.Index(fields=["template_id"], name="wechat_template_tid")]

    def __str__(self):
        return f"{self.get_kind_display()} → {self.template_id}"


class ConsentResult(models.TextChoices):
    ACCEPT = "accept", _("accepted")
    REJECT = "reject", _("rejected")
    BAN = "ban", _("banned by WeChat")
    FILTER = "filter", _("filtered by WeChat")
    RETURNED = "returned", _("returned (send failed)")


class SubscribeConsent(models.Model):
    """One answer of a member to ``wx.requestSubscribeMessage`` for one template.

    An ``accept`` (or a ``returned`` credit of a send WeChat refused for our
    own data) is one send credit; it is spent when a delivery takes it
    (``spent_at``), and the one-to-one link from the delivery makes sure a
    credit pays for one message only.  Other answers are kept as the record.
    """

    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="subscribe_consents",
    )
    template_id = models.CharField(_("WeChat template id"), max_length=128)
    result = models.CharField(_("result"), max_length=10, choices=ConsentResult.choices)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)
    spent_at = models.DateTimeField(_("spent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("subscription consent")
        verbose_name_plural = _("subscription consents")
        indexes = [
            models.Index(
                fields=["member", "template_id", "id"],
                condition=Q(result__in=["accept", "returned"], spent_at__isnull=True),
                name="consent_unspent_credit",
            )
        ]

    def __str__(self):
        return f"{self.member_id} · {self.template_id} · {self.get_result_display()}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")


class WechatDelivery(models.Model):
    """A subscription message to send to WeChat: the transactional outbox.

    Written with the notification, in the caller's transaction, with the
    credit it spends; sent after commit by a task and retried by a periodic
    job.  One per member and dedupe key, like the notification itself.
    """

    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.CASCADE, related_name="wechat_deliveries"
    )
    kind = models.CharField(_("kind"), max_length=40, choices=kind_choices)
    dedupe_key = models.CharField(max_length=120)
    template_id = models.CharField(_("WeChat template id"), max_length=128)
    page = models.CharField(_("page"), max_length=200, blank=True)
    data = models.JSONField(_("data"), default=dict)
    consent = models.OneToOneField(
        SubscribeConsent,
        verbose_name=_("credit spent"),
        on_delete=models.PROTECT,
        related_name="delivery",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    errcode = models.IntegerField(_("WeChat errcode"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=200, blank=True)
    msgid = models.CharField(_("WeChat msgid"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("WeChat message")
        verbose_name_plural = _("WeChat messages")
        constraints = [
            models.UniqueConstraint(fields=["member", "dedupe_key"], name="uniq_wechat_delivery_dedupe")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status="pending"),
                name="wechat_delivery_due",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} → {self.member_id} ({self.get_status_display()})"
