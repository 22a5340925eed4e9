"""Points mall (积分商城): categories, items, virtual codes, shipping addresses, redemptions and their events.

Invariants (``verify_ledgers`` checks them):
- An item's ``stock`` never goes below zero (CHECK) and is taken by a
  conditional UPDATE (``stock > 0``), so it is never oversold; ``sold_count``
  equals the item's redemptions that are not cancelled.
- A virtual code belongs to at most one redemption (unique), and a
  redemption holds at most one code.
- Every state change of a redemption is a ``RedemptionEvent`` row
  (append-only: a trigger refuses UPDATE and DELETE).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from loyalty.money import format_fen


class Category(models.Model):
    name = models.CharField(_("name"), max_length=40, unique=True)
    sort_order = models.IntegerField(_("sort order"), default=0, help_text=_("Smaller comes first."))

    class Meta:
        verbose_name = _("mall category")
        verbose_name_plural = _("mall categories")
        ordering = ["sort_order", "id"]

    def __str__(self):
        return self.name


class ItemKind(models.TextChoices):
    PHYSICAL = "physical", _("physical goods (shipped)")
    COUPON = "coupon", _("coupon")
    VIRTUAL_CODE = "virtual_code", _("virtual code or card secret")
    PICKUP = "pickup", _("physical goods (picked up in store)")


class LimitPeriod(models.TextChoices):
    NONE = "", _("no period limit")
    DAY = "day", _("per day")
    WEEK = "week", _("per week")
    MONTH = "month", _("per month")


class MallItem(models.Model):
    """Something members redeem with points, or points + cash (``cash_fen`` > 0)."""

    name = models.CharField(_("name"), max_length=60)
    kind = models.CharField(_("kind"), max_length=16, choices=ItemKind.choices)
    category = models.ForeignKey(
        Category, verbose_name=_("category"), null=True, blank=True, on_delete=models.SET_NULL
    )
    description = models.TextField(_("description"), blank=True)
    image_url = models.URLField(_("main image"), blank=True)
    extra_images = models.JSONField(
        _("more images"), default=list, blank=True, help_text=_("A list of URLs.")
    )
    points = models.PositiveIntegerField(_("points"))
    cash_fen = models.BigIntegerField(
        _("cash (fen)"),
        default=0,
        help_text=_("More than 0 makes it points + cash: the member pays this too."),
    )
    coupon_template = models.ForeignKey(
        "coupons.CouponTemplate",
        verbose_name=_("coupon template"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text=_("For coupon items: the coupon each redemption issues."),
    )
    stock = models.PositiveIntegerField(_("stock left"), default=0)
    sold_count = models.PositiveIntegerField(_("redeemed"), default=0, editable=False)
    per_member_limit = models.PositiveIntegerField(
        _("per member (lifetime)"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    period = models.CharField(
        _("limit period"), max_length=8, choices=LimitPeriod.choices, default=LimitPeriod.NONE, blank=True
    )
    per_period_limit = models.PositiveIntegerField(_("per member per period"), null=True, blank=True)
    min_tier_level = models.PositiveSmallIntegerField(
        _("lowest tier level"), default=0, help_text=_("0: every member.")
    )
    required_card_type_ids = models.JSONField(
        _("card types required"),
        default=list,
        blank=True,
        help_text=_(
            "Ids of membership card types; holding any one of them is enough. Empty: no card needed."
        ),
    )
    on_sale_from = models.DateTimeField(_("on sale from"), null=True, blank=True)
    on_sale_until = models.DateTimeField(_("on sale until"), null=True, blank=True)
    sort_order = models.IntegerField(_("sort order"), default=0, help_text=_("Smaller comes first."))
    is_active = models.BooleanField(_("on the shelf"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("mall item")
        verbose_name_plural = _("mall items")
        ordering = ["sort_order", "id"]
        permissions = [("ship_redemption", _("Can ship and cancel mall redemptions"))]
        constraints = [
            models.CheckConstraint(condition=Q(cash_fen__gte=0), name="mall_item_cash_not_negative"),
            models.CheckConstraint(
                condition=Q(points__gt=0) | Q(cash_fen__gt=0), name="mall_item_has_a_price"
            ),
            models.CheckConstraint(
                condition=~Q(kind="coupon") | Q(coupon_template__isnull=False),
                name="mall_coupon_item_has_template",
            ),
            models.CheckConstraint(
                condition=Q(period="") | Q(per_period_limit__isnull=False), name="mall_period_has_limit"
            ),
        ]

    def __str__(self):
        return self.name

    def price_text(self) -> str:
        if self.cash_fen and self.points:
            return f"{self.points} 积分 + {format_fen(self.cash_fen)}"
        if self.cash_fen:
            return format_fen(self.cash_fen)
        return f"{self.points} 积分"


class VirtualCode(models.Model):
    """One code or card secret of a virtual item, given to at most one redemption."""

    item = models.ForeignKey(MallItem, verbose_name=_("item"), on_delete=models.PROTECT, related_name="codes")
    code = models.CharField(_("code"), max_length=128)
    redemption = models.OneToOneField(
        "Redemption",
        verbose_name=_("redemption"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="virtual_code",
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)

    class Meta:
        verbose_name = _("virtual code")
        verbose_name_plural = _("virtual codes")
        constraints = [models.UniqueConstraint(fields=["item", "code"], name="mall_code_once_per_item")]
        indexes = [
            models.Index(fields=["item", "id"], condition=Q(redemption__isnull=True), name="mall_code_free")
        ]

    def __str__(self):
        return mask_code(self.code)


def mask_code(code: str) -> str:
    """What lists show of a code: its first 2 and last 2 characters, never the whole of it."""
    if len(code) <= 4:
        return "*" * len(code)
    return code[:2] + "*" * (len(code) - 4) + code[-2:]


class ShippingAddress(models.Model):
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="addresses"
    )
    recipient = models.CharField(_("recipient"), max_length=40)
    phone = models.CharField(_("phone"), max_length=20)
    province = models.CharField(_("province"), max_length=20)
    city = models.CharField(_("city"), max_length=20)
    district = models.CharField(_("district"), max_length=20, blank=True)
    detail = models.CharField(_("street address"), max_length=120)
    postal_code = models.CharField(_("postal code"), max_length=10, blank=True)
    is_default = models.BooleanField(_("default"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("shipping address")
        verbose_name_plural = _("shipping addresses")
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=Q(is_default=True), name="mall_one_default_address"
            )
        ]

    def __str__(self):
        return self.one_line()

    def one_line(self) -> str:
        return f"{self.recipient} {self.phone} {self.province}{self.city}{self.district}{self.detail}"


class RedemptionStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("awaiting payment")
    PAID = "paid", _("paid, awaiting shipment")
    FULFILLED = "fulfilled", _("fulfilled")
    SHIPPED = "shipped", _("shipped")
    COMPLETED = "completed", _("completed")
    CANCELLED = "cancelled", _("cancelled")


class Redemption(models.Model):
    """A member's redemption of one item. Its state changes only in ``mall.services``."""

    no = models.CharField(_("redemption number"), max_length=24, unique=True)
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="redemptions"
    )
    item = models.ForeignKey(
        MallItem, verbose_name=_("item"), on_delete=models.PROTECT, related_name="redemptions"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=ItemKind.choices)
    points = models.PositiveIntegerField(_("points"))
    cash_fen = models.BigIntegerField(_("cash"), default=0)
    status = models.CharField(_("status"), max_length=16, choices=RedemptionStatus.choices)
    idempotency_key = models.CharField(max_length=128)
    request_hash = models.CharField(max_length=64)
    points_entry_id = models.BigIntegerField(_("points entry"), null=True, blank=True)
    out_trade_no = models.CharField(_("payment number"), max_length=32, blank=True)
    coupon_id = models.BigIntegerField(_("coupon"), null=True, blank=True)
    recipient = models.CharField(_("recipient"), max_length=40, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    carrier = models.CharField(_("carrier"), max_length=40, blank=True)
    tracking_no = models.CharField(_("tracking number"), max_length=64, blank=True)
    # Picked up in store: the code the member shows (QR) and a clerk redeems (counter/).
    pickup_code = models.CharField(_("pick-up code"), max_length=16, null=True, blank=True, unique=True)
    cancel_reason = models.CharField(_("cancel reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    fulfilled_at = models.DateTimeField(_("fulfilled at"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        constraints = [
            models.UniqueConstraint(fields=["member", "idempotency_key"], name="mall_redemption_key_once"),
            models.CheckConstraint(condition=Q(cash_fen__gte=0), name="mall_redemption_cash"),
            models.CheckConstraint(
                condition=~Q(status="shipped") | ~Q(tracking_no=""), name="mall_shipped_has_tracking"
            ),
        ]
        indexes = [
            models.Index(fields=["item", "member", "created_at"], name="mall_redemption_limit"),
            models.Index(
                fields=["shipped_at"], condition=Q(status="shipped"), name="mall_redemption_shipped"
            ),
        ]

    def __str__(self):
        return self.no


class RedemptionEventKind(models.TextChoices):
    """The first event is the status a redemption starts in; the rest are its changes."""

    PENDING_PAYMENT = "pending_payment", _("placed, awaiting payment")
    PAID = "paid", _("paid")
    FULFILLED = "fulfilled", _("fulfilled")
    SHIPPED = "shipped", _("shipped")
    TRACKING = "tracking", _("tracking number changed")
    COMPLETED = "completed", _("completed")
    PICKED_UP = "picked_up", _("picked up in store")
    REFUNDED = "refunded", _("payment refunded")
    CANCELLED = "cancelled", _("cancelled")


class RedemptionEvent(models.Model):
    """Append-only history of a redemption: created, paid, fulfilled, shipped, completed, cancelled."""

    redemption = models.ForeignKey(Redemption, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(_("event"), max_length=16, choices=RedemptionEventKind.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
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
        verbose_name = _("redemption event")
        verbose_name_plural = _("redemption events")

    def __str__(self):
        return f"{self.redemption_id} {self.get_kind_display()}"
