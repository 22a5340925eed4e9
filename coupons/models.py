"""Coupons (优惠券): templates, members' copies, their events, gift packs and bulk issues.

Invariants (``verify_ledgers`` checks them):
- A template's ``issued_count`` equals the number of its coupons and never
  exceeds ``total_stock`` (CHECK): stock is taken by a conditional UPDATE, so
  it is never oversold.
- A coupon is used at most once: ``used`` is a state reached only from
  ``locked`` by the order that locked it.
- Every state change of a coupon is a ``CouponEvent`` row (append-only).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from loyalty.labels import CodeLabels
from loyalty.money import format_fen

#: How a coupon was issued: coupons' own ways here; the apps above register theirs at startup (mall ``mall``).
SOURCES = CodeLabels(
    [
        ("claim", _("claimed by the member")),
        ("gift_pack", _("gift pack")),
        ("bulk", _("bulk issue")),
    ]
)


def source_choices():
    return SOURCES.choices()


class CouponKind(models.TextChoices):
    AMOUNT_OFF = "amount_off", _("amount off above a threshold (满减)")
    PERCENT_OFF = "percent_off", _("percent off (折扣)")
    NO_THRESHOLD = "no_threshold", _("no threshold (无门槛)")
    FREE_SHIPPING = "free_shipping", _("free shipping (包邮)")
    EXCHANGE = "exchange", _("exchange for an item (兑换券)")


class Validity(models.TextChoices):
    FIXED = "fixed", _("fixed dates")
    RELATIVE = "relative", _("N days after claiming")


class Audience(models.TextChoices):
    EVERYONE = "everyone", _("everyone")
    NEW_MEMBERS = "new_members", _("new members")
    TIERS = "tiers", pgettext_lazy("membership", "tiers")
    CARD_HOLDERS = "card_holders", _("card holders")
    SEGMENT = "segment", _("segment")
    TAGS = "tags", _("member tags")


class Scope(models.TextChoices):
    ALL = "all", _("all items")
    CATEGORIES = "categories", _("categories")
    SKUS = "skus", _("SKUs")


class Stacking(models.TextChoices):
    NORMAL = "normal", _("one discount coupon per order (free shipping may stack)")
    EXCLUSIVE = "exclusive", _("exclusive: with no other coupon")


class CouponTemplate(models.Model):
    name = models.CharField(_("name"), max_length=60)
    description = models.CharField(_("description"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=CouponKind.choices)
    threshold_fen = models.BigIntegerField(_("threshold (fen)"), default=0)
    amount_off_fen = models.BigIntegerField(_("amount off (fen)"), default=0)
    percent_off = models.PositiveSmallIntegerField(
        _("percent off"), default=0, help_text=_("20 means 20 percent off (8折).")
    )
    max_discount_fen = models.BigIntegerField(_("discount cap (fen)"), null=True, blank=True)
    gift_sku = models.CharField(_("exchange SKU"), max_length=64, blank=True)
    validity = models.CharField(
        _("validity"), max_length=8, choices=Validity.choices, default=Validity.RELATIVE
    )
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    valid_days = models.PositiveIntegerField(_("valid for (days)"), default=30)
    total_stock = models.PositiveIntegerField(_("total stock"))
    issued_count = models.PositiveIntegerField(_("issued"), default=0, editable=False)
    per_member_limit = models.PositiveIntegerField(_("per member"), default=1)
    claimable = models.BooleanField(
        _("in the claim centre"), default=True, help_text=_("Off: issued only by gift packs or operators.")
    )
    claim_starts_at = models.DateTimeField(_("claim from"), null=True, blank=True)
    claim_ends_at = models.DateTimeField(_("claim until"), null=True, blank=True)
    audience = models.CharField(
        _("audience"), max_length=16, choices=Audience.choices, default=Audience.EVERYONE
    )
    audience_values = models.JSONField(
        _("audience values"),
        default=list,
        blank=True,
        help_text=_("Tier levels, card type ids or a segment id."),
    )
    scope = models.CharField(_("scope"), max_length=12, choices=Scope.choices, default=Scope.ALL)
    scope_values = models.JSONField(_("categories or SKUs"), default=list, blank=True)
    scope_exclude = models.BooleanField(_("exclude these instead"), default=False)
    stacking = models.CharField(
        _("stacking"), max_length=10, choices=Stacking.choices, default=Stacking.NORMAL
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("coupon template")
        verbose_name_plural = _("coupon templates")
        permissions = [
            ("issue_coupons", _("Can issue coupons in bulk")),
            ("void_coupon", _("Can void coupons")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(issued_count__lte=F("total_stock")), name="coupon_never_oversold"
            ),
            models.CheckConstraint(
                condition=Q(threshold_fen__gte=0)
                & Q(amount_off_fen__gte=0)
                & Q(percent_off__lte=99)
                & (Q(max_discount_fen__isnull=True) | Q(max_discount_fen__gte=1)),
                name="coupon_template_amounts",
            ),
            models.CheckConstraint(
                condition=~Q(validity="fixed") | (Q(valid_until__isnull=False)), name="coupon_fixed_has_end"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def remaining_stock(self) -> int:
        return self.total_stock - self.issued_count

    def face(self) -> str:
        """What the coupon gives, as a member reads it: 满100减20, 8折, 包邮 …"""
        if self.kind == CouponKind.AMOUNT_OFF:
            return f"满{format_fen(self.threshold_fen)}减{format_fen(self.amount_off_fen)}"
        if self.kind == CouponKind.NO_THRESHOLD:
            return f"立减{format_fen(self.amount_off_fen)}"
        if self.kind == CouponKind.PERCENT_OFF:
            rate = 100 - self.percent_off
            text = f"{rate // 10}.{rate % 10}折".replace(".0折", "折")
            return text + (f"（最高减{format_fen(self.max_discount_fen)}）" if self.max_discount_fen else "")
        if self.kind == CouponKind.FREE_SHIPPING:
            return "包邮" if not self.threshold_fen else f"满{format_fen(self.threshold_fen)}包邮"
        return f"兑换 {self.gift_sku}"


class CouponStatus(models.TextChoices):
    AVAILABLE = "available", _("available")
    LOCKED = "locked", _("locked for an order")
    USED = "used", _("used")
    EXPIRED = "expired", _("expired")
    VOIDED = "voided", _("voided")


class CouponEventKind(models.TextChoices):
    ISSUED = "issued", _("issued")
    LOCKED = "locked", _("locked for an order")
    RELEASED = "released", _("released by the order")
    USED = "used", _("used")
    RESTORED = "restored", _("restored by a refund")
    EXPIRED = "expired", _("expired")
    VOIDED = "voided", _("voided")


class Coupon(models.Model):
    """A member's copy of a template. Its state changes only in ``coupons.services``."""

    template = models.ForeignKey(
        CouponTemplate, verbose_name=_("template"), on_delete=models.PROTECT, related_name="coupons"
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="coupons"
    )
    code = models.CharField(_("code"), max_length=16, unique=True)
    status = models.CharField(
        _("status"), max_length=10, choices=CouponStatus.choices, default=CouponStatus.AVAILABLE
    )
    source = models.CharField(_("source"), max_length=16, choices=source_choices)
    issue_key = models.CharField(_("issue key"), max_length=128)
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"), db_index=True)
    order_no = models.CharField(_("order"), max_length=64, blank=True)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    issued_at = models.DateTimeField(_("issued at"), auto_now_add=True)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        constraints = [
            models.UniqueConstraint(fields=["member", "template", "issue_key"], name="coupon_issue_once"),
        ]
        indexes = [
            models.Index(fields=["member", "status"], name="coupon_member_status"),
            models.Index(
                fields=["valid_until"], condition=Q(status="available"), name="coupon_available_expiry"
            ),
            models.Index(fields=["locked_until"], condition=Q(status="locked"), name="coupon_locked_expiry"),
        ]

    def __str__(self):
        return f"{self.code} {self.template}"


class CouponEvent(models.Model):
    """Append-only history of a coupon: issued, locked, released, used, restored, expired, voided."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(_("event"), max_length=10, choices=CouponEventKind.choices)
    order_no = models.CharField(_("order"), max_length=64, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("operator"), null=True, blank=True, on_delete=models.PROTECT
    )
    # At a counter: the store it happened in and the staff member who did it.
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
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("coupon event")
        verbose_name_plural = _("coupon events")

    def __str__(self):
        return f"{self.coupon_id} {self.get_kind_display()}"


class GiftPack(models.Model):
    """A named bundle of coupons and points, issued together once per member per occasion."""

    name = models.CharField(_("name"), max_length=60)
    points = models.PositiveIntegerField(_("points"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("gift pack")
        verbose_name_plural = _("gift packs")

    def __str__(self):
        return self.name


class GiftPackItem(models.Model):
    pack = models.ForeignKey(GiftPack, on_delete=models.CASCADE, related_name="items")
    template = models.ForeignKey(CouponTemplate, verbose_name=_("coupon template"), on_delete=models.PROTECT)
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1)

    class Meta:
        verbose_name = _("coupon in the pack")
        verbose_name_plural = _("coupons in the pack")

    def __str__(self):
        return f"{self.template} × {self.quantity}"


#: What a gift pack is given for, by the occasion's first part (``recharge`` of ``recharge:42``): the apps that
#: give packs register theirs at startup (membership, stored_value).
OCCASIONS = CodeLabels()


def occasion_label(occasion: str) -> str:
    """``recharge:42`` → "充值赠礼（42）", ``new_member`` → "新会员礼"."""
    kind, _colon, rest = occasion.partition(":")
    label = OCCASIONS.label(kind)
    return f"{label}（{rest.replace(':', ' · ')}）" if rest else label


class GiftPackGrant(models.Model):
    """A pack given to a member for one occasion (new_member, recharge:42, birthday:2026 …), once."""

    pack = models.ForeignKey(GiftPack, verbose_name=_("gift pack"), on_delete=models.PROTECT)
    member = models.ForeignKey("members.Member", verbose_name=_("member"), on_delete=models.PROTECT)
    occasion = models.CharField(_("occasion"), max_length=64)
    withheld = models.JSONField(
        _("withheld"), default=list, blank=True, help_text=_("Coupons not issued (sold out, limit reached).")
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("gift pack grant")
        verbose_name_plural = _("gift pack grants")
        constraints = [
            models.UniqueConstraint(fields=["pack", "member", "occasion"], name="gift_pack_once_per_occasion")
        ]

    def __str__(self):
        return f"{self.pack} → {self.member} ({self.occasion_display()})"

    def occasion_display(self) -> str:
        return occasion_label(self.occasion)


class BulkIssueStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")


class BulkIssue(models.Model):
    """An operator's issue of one template to many members, run by Celery in chunks (resumable)."""

    template = models.ForeignKey(CouponTemplate, verbose_name=_("coupon template"), on_delete=models.PROTECT)
    status = models.CharField(
        _("status"), max_length=8, choices=BulkIssueStatus.choices, default=BulkIssueStatus.QUEUED
    )
    total = models.PositiveIntegerField(_("members"), default=0)
    processed = models.PositiveIntegerField(_("processed"), default=0)
    issued = models.PositiveIntegerField(_("issued"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("operator"), on_delete=models.PROTECT
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("bulk issue")
        verbose_name_plural = _("bulk issues")

    def __str__(self):
        return f"#{self.pk} {self.template}"


class BulkIssueResult(models.TextChoices):
    PENDING = "pending", _("pending")
    ISSUED = "issued", _("issued")
    LIMIT = "limit", _("per-member limit reached")
    SOLD_OUT = "sold_out", _("sold out")
    CLOSED = "closed", _("skipped: account closed")


class BulkIssueTarget(models.Model):
    """One member of a bulk issue and what happened to them: the per-member report."""

    bulk_issue = models.ForeignKey(BulkIssue, on_delete=models.CASCADE, related_name="targets")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT)
    result = models.CharField(max_length=8, choices=BulkIssueResult.choices, default=BulkIssueResult.PENDING)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bulk_issue", "member"], name="bulk_issue_member_once")
        ]
        indexes = [
            models.Index(
                fields=["bulk_issue", "id"], condition=Q(result="pending"), name="bulk_issue_pending"
            )
        ]

    def __str__(self):
        return f"{self.bulk_issue_id}:{self.member_id} {self.result}"
