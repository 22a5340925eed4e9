"""Payments through WeChat Pay (API v3, JSAPI), shared by every purpose that takes money.

A ``Payment`` is one WeChat Pay order (``out_trade_no``) for one purpose
(``recharge``; later paid cards and points + cash): created → paid | closed.
The purpose's own row is found by ``reference``; the purpose learns of the
outcome through ``payments.purposes``.  Refunds are rows of their own, one
per ``out_refund_no``, and the payment counts what was refunded.
"""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from loyalty.money import format_fen


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("awaiting payment")
    PAID = "paid", _("paid")
    CLOSED = "closed", _("closed")


class PaymentPurpose(models.TextChoices):
    """What a payment is for: the keys of ``payments.purposes.PURPOSES``."""

    RECHARGE = "recharge", _("stored-value recharge")
    CARD = "card", _("paid membership card")
    MALL = "mall", _("points mall (points + cash)")
    GROUP_BUY = "group_buy", _("group buying (拼团)")
    BARGAIN = "bargain", _("bargain purchase (砍价)")


class PaymentProvider(models.TextChoices):
    WECHAT = "wechat", _("WeChat Pay")
    FAKE = "fake", _("simulated (test)")


class NotificationEvent(models.TextChoices):
    """WeChat Pay's event types; one WeChat adds later reads as its code."""

    TRANSACTION_SUCCESS = "TRANSACTION.SUCCESS", _("payment succeeded")
    REFUND_SUCCESS = "REFUND.SUCCESS", _("refund succeeded")
    REFUND_ABNORMAL = "REFUND.ABNORMAL", _("refund failed")
    REFUND_CLOSED = "REFUND.CLOSED", _("refund closed")


class Payment(models.Model):
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="payments"
    )
    purpose = models.CharField(_("purpose"), max_length=16, choices=PaymentPurpose.choices)
    reference = models.CharField(_("reference"), max_length=64)
    out_trade_no = models.CharField(_("payment number"), max_length=32, unique=True)
    provider = models.CharField(_("provider"), max_length=8, choices=PaymentProvider.choices)
    description = models.CharField(_("description"), max_length=127)
    amount_fen = models.BigIntegerField(_("amount"))
    refunded_fen = models.BigIntegerField(_("refunded"), default=0)
    status = models.CharField(
        _("status"), max_length=8, choices=PaymentStatus.choices, default=PaymentStatus.CREATED
    )
    prepay_id = models.CharField(max_length=64, blank=True)
    transaction_id = models.CharField(_("WeChat transaction id"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField(_("expires at"))
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.UniqueConstraint(
                fields=["purpose", "reference"], name="payment_one_per_purpose_reference"
            ),
            models.CheckConstraint(
                condition=Q(amount_fen__gte=1)
                & Q(refunded_fen__gte=0)
                & Q(refunded_fen__lte=F("amount_fen")),
                name="payment_amounts",
            ),
        ]
        indexes = [
            models.Index(fields=["expires_at"], condition=Q(status="created"), name="payment_created_expiry")
        ]

    def __str__(self):
        return f"{self.out_trade_no} {format_fen(self.amount_fen)} {self.get_status_display()}"


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("submitting")
    PROCESSING = "processing", _("processing")
    SUCCEEDED = "succeeded", _("refunded")
    FAILED = "failed", _("failed")


class PaymentRefund(models.Model):
    """A refund of (part of) a payment: written with the ledger entry that took the money out,
    submitted to the provider after commit and retried until the provider has it."""

    payment = models.ForeignKey(
        Payment, verbose_name=_("payment"), on_delete=models.PROTECT, related_name="refunds"
    )
    out_refund_no = models.CharField(_("refund number"), max_length=64, unique=True)
    amount_fen = models.BigIntegerField(_("amount"))
    reason = models.CharField(_("reason"), max_length=80, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=RefundStatus.choices, default=RefundStatus.PENDING
    )
    refund_id = models.CharField(_("WeChat refund id"), max_length=32, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [models.CheckConstraint(condition=Q(amount_fen__gte=1), name="payment_refund_amount")]

    def __str__(self):
        return f"{self.out_refund_no} {format_fen(self.amount_fen)} {self.get_status_display()}"


class PaymentNotification(models.Model):
    """Every verified notification, once by its WeChat id: the audit trail of what WeChat told us."""

    notification_id = models.CharField(_("notification id"), max_length=64, unique=True)
    event_type = models.CharField(_("event"), max_length=32)
    out_trade_no = models.CharField(_("payment number"), max_length=32, db_index=True)
    resource = models.JSONField(_("decrypted resource"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment notification")
        verbose_name_plural = _("payment notifications")

    def __str__(self):
        return f"{dict(NotificationEvent.choices).get(self.event_type, self.event_type)} {self.out_trade_no}"
