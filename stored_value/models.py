"""Stored value (储值): accounts with principal and bonus parts, their ledger, recharge plans and orders.

Only ``stored_value.ledger`` writes accounts and entries.  Invariants (checked
by ``manage.py verify_ledgers``):

- ``principal_fen`` = sum of the account's entries' principal parts, and the
  same for ``bonus_fen``; each latest entry's balances-after equal the account.
- Neither part is ever negative (CHECK constraints on accounts and entries'
  balances-after).
- Entries are append-only (a trigger refuses UPDATE and DELETE).
- A credited recharge order has exactly one recharge entry (and one bonus
  entry when it carries a bonus).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from loyalty.labels import CodeLabels
from loyalty.money import format_fen

MAX_FEN = 10**12


class StoredValueAccount(models.Model):
    member = models.OneToOneField(
        "members.Member",
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        related_name="stored_value_account",
    )
    principal_fen = models.BigIntegerField(_("principal"), default=0)
    bonus_fen = models.BigIntegerField(_("bonus"), default=0)
    frozen = models.BooleanField(_("frozen"), default=False)
    frozen_reason = models.CharField(_("freeze reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("stored-value account")
        verbose_name_plural = _("stored-value accounts")
        permissions = [
            ("adjust_stored_value", _("Can adjust stored-value balances")),
            ("refund_recharge", _("Can refund recharges")),
            ("freeze_stored_value", _("Can freeze and unfreeze stored-value accounts")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(principal_fen__gte=0), name="sv_account_principal_not_negative"
            ),
            models.CheckConstraint(condition=Q(bonus_fen__gte=0), name="sv_account_bonus_not_negative"),
        ]

    def __str__(self):
        return f"{self.member} · {format_fen(self.balance_fen)}"

    @property
    def balance_fen(self) -> int:
        return self.principal_fen + self.bonus_fen


class EntryKind(models.TextChoices):
    RECHARGE = "recharge", _("recharge")
    BONUS = "bonus", _("recharge bonus")
    SPEND = "spend", _("spend")
    SPEND_REFUND = "spend_refund", _("spend refund")
    RECHARGE_REFUND = "recharge_refund", _("recharge refund")
    ADJUST = "adjust", _("adjust")


#: What an entry came from: stored value's own codes here; the apps above register theirs at startup
#: (orders ``order``).
SOURCES = CodeLabels(
    [
        ("recharge", _("recharge")),
        ("adjust", _("operator adjustment")),
        # ledger.CLOSURE_SOURCE: a closed account's spend refund, paid out (principal) and forfeited (bonus)
        ("closure", _("account closed: refund paid out")),
    ]
)


def source_choices():
    return SOURCES.choices()


class StoredValueEntry(models.Model):
    """One posting, split into its principal and bonus parts. Append-only."""

    account = models.ForeignKey(
        StoredValueAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="entries"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=EntryKind.choices)
    principal_fen = models.BigIntegerField(_("principal part"))
    bonus_fen = models.BigIntegerField(_("bonus part"))
    principal_after_fen = models.BigIntegerField(_("principal after"))
    bonus_after_fen = models.BigIntegerField(_("bonus after"))
    source = models.CharField(_("source"), max_length=32, blank=True, choices=source_choices)
    reference = models.CharField(_("reference"), max_length=64, blank=True, db_index=True)
    memo = models.CharField(_("memo"), max_length=200, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    request_hash = models.CharField(max_length=64, blank=True)
    reverses = models.ForeignKey(
        "self",
        verbose_name=_("refunds"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunds",
    )
    recharge = models.ForeignKey(
        "RechargeOrder",
        verbose_name=_("recharge order"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entries",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("operator"), null=True, blank=True, on_delete=models.PROTECT
    )
    created_at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        verbose_name = _("stored-value entry")
        verbose_name_plural = _("stored-value ledger")
        constraints = [
            models.UniqueConstraint(fields=["account", "idempotency_key"], name="sv_entry_key_unique"),
            models.CheckConstraint(
                condition=Q(principal_after_fen__gte=0) & Q(bonus_after_fen__gte=0),
                name="sv_entry_balances_not_negative",
            ),
        ]
        indexes = [models.Index(fields=["account", "-id"], name="sv_entry_account_recent")]

    def __str__(self):
        return f"{self.get_kind_display()} {format_fen(self.amount_fen)}"

    @property
    def amount_fen(self) -> int:
        return self.principal_fen + self.bonus_fen


class SpendOrder(models.TextChoices):
    PROPORTIONAL = "proportional", _("in proportion to principal and bonus")
    PRINCIPAL_FIRST = "principal_first", _("principal first")
    BONUS_FIRST = "bonus_first", _("bonus first")


class StoredValuePolicy(models.Model):
    """The merchant's stored-value settings (one row)."""

    spend_order = models.CharField(
        _("spend order"), max_length=16, choices=SpendOrder.choices, default=SpendOrder.PROPORTIONAL
    )
    balance_cap_fen = models.BigIntegerField(
        _("balance cap per member (fen)"),
        default=500_000,
        help_text=_("A recharge that would take principal + bonus above this is refused before payment."),
    )
    recharge_timeout_minutes = models.PositiveIntegerField(
        _("unpaid recharge closes after (minutes)"), default=15
    )

    class Meta:
        verbose_name = _("stored-value policy")
        verbose_name_plural = _("stored-value policy")

    def __str__(self):
        return str(_("stored-value policy"))


class PlanKind(models.TextChoices):
    TIERS = "tiers", _("tiers (best tier reached)")
    RATIO = "ratio", _("ratio")
    OPEN = "open", _("free amount, no bonus")


class RechargePlan(models.Model):
    """How much a member may recharge and what bonus and gifts it brings.

    - tiers: any amount in [min, max]; the bonus of the highest tier the amount
      reaches (充1500送150 and 充3000送300: 2000 gets 150), never pro rata.
    - ratio: bonus = floor(amount × bonus_per / pay_per) fen (loyalty.rounding).
    - open: any amount in [min, max], no bonus.
    """

    name = models.CharField(_("name"), max_length=60)
    kind = models.CharField(_("kind"), max_length=8, choices=PlanKind.choices, default=PlanKind.TIERS)
    min_fen = models.BigIntegerField(_("minimum amount (fen)"), default=100)
    max_fen = models.BigIntegerField(_("maximum amount (fen)"), default=500_000)
    ratio_pay = models.PositiveIntegerField(_("ratio: pay"), default=10)
    ratio_bonus = models.PositiveIntegerField(_("ratio: bonus"), default=0)
    gift_points = models.PositiveIntegerField(_("gift points"), default=0)
    gift_pack = models.ForeignKey(
        "coupons.GiftPack",
        verbose_name=_("gift pack"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text=_("Coupons (and points) given with every recharge on this plan."),
    )
    first_recharge_only = models.BooleanField(_("first recharge only"), default=False)
    max_uses_per_member = models.PositiveIntegerField(
        _("uses per member"), null=True, blank=True, help_text=_("Empty: unlimited.")
    )
    starts_at = models.DateTimeField(_("starts at"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.IntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("recharge plan")
        verbose_name_plural = _("recharge plans")
        ordering = ["sort_order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_fen__gte=1) & Q(max_fen__gte=models.F("min_fen")) & Q(max_fen__lte=MAX_FEN),
                name="sv_plan_amount_range",
            )
        ]

    def __str__(self):
        return self.name


class RechargeTier(models.Model):
    plan = models.ForeignKey(RechargePlan, on_delete=models.CASCADE, related_name="tiers")
    pay_fen = models.BigIntegerField(_("pay at least (fen)"))
    bonus_fen = models.BigIntegerField(_("bonus (fen)"))

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["pay_fen"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "pay_fen"], name="sv_tier_unique_amount"),
            models.CheckConstraint(condition=Q(pay_fen__gte=1) & Q(bonus_fen__gte=0), name="sv_tier_amounts"),
        ]

    def __str__(self):
        return f"充{format_fen(self.pay_fen)}送{format_fen(self.bonus_fen)}"


class RechargeStatus(models.TextChoices):
    CREATED = "created", _("awaiting payment")
    CREDITED = "credited", _("credited")
    CLOSED = "closed", _("closed")
    REFUNDED = "refunded", _("refunded")


class RechargeOrder(models.Model):
    """A member's recharge: created → (paid and) credited in one transaction, or closed; maybe refunded."""

    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="recharges"
    )
    plan = models.ForeignKey(RechargePlan, verbose_name=_("plan"), on_delete=models.PROTECT)
    amount_fen = models.BigIntegerField(_("amount paid"))
    bonus_fen = models.BigIntegerField(_("bonus"))
    gift_points = models.PositiveIntegerField(_("gift points"), default=0)
    status = models.CharField(
        _("status"), max_length=10, choices=RechargeStatus.choices, default=RechargeStatus.CREATED
    )
    out_trade_no = models.CharField(_("payment number"), max_length=32, blank=True, db_index=True)
    refunded_fen = models.BigIntegerField(_("principal refunded"), default=0)
    forfeited_bonus_fen = models.BigIntegerField(_("bonus forfeited"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    credited_at = models.DateTimeField(_("credited at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    # At a counter: the store it happened in and the staff member who served or brought it.
    store = models.ForeignKey(
        "stores.Store",
        verbose_name=_("store"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    staff = models.ForeignKey(
        "stores.Staff",
        verbose_name=_("staff"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("recharge order")
        verbose_name_plural = _("recharge orders")
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_fen__gte=1) & Q(bonus_fen__gte=0) & Q(refunded_fen__gte=0),
                name="sv_recharge_amounts",
            ),
            models.CheckConstraint(
                condition=Q(refunded_fen__lte=models.F("amount_fen")), name="sv_recharge_refund_cap"
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {format_fen(self.amount_fen)} {self.get_status_display()}"


class FreezeEvent(models.Model):
    """Audit trail of freezes and unfreezes (who, when, why)."""

    account = models.ForeignKey(
        StoredValueAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="freeze_events"
    )
    frozen = models.BooleanField(_("frozen"))
    reason = models.CharField(_("reason"), max_length=200)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("operator"), on_delete=models.PROTECT)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("freeze event")
        verbose_name_plural = _("freeze events")

    def __str__(self):
        return f"{self.account} {_('freeze') if self.frozen else _('unfreeze')}: {self.reason}"
