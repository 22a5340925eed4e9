"""Orders (a mirror of the merchant's order), their settlement, refunds and status history.

Invariants, each enforced by the database:

- An order's lines carry every discount and payment allocated to them
  (``amount = benefit + coupon + points + stored value + cash``), so a refund
  by line and quantity is exact to the fen.
- Cumulative refunded columns never exceed what was applied (CHECK on the
  order and on each line); refunds update them under the order's row lock.
- ``OrderEvent``, ``Refund`` and ``RefundLine`` are append-only (trigger).
"""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from loyalty.money import format_fen


class CheckoutSettings(models.Model):
    """积分抵现 and checkout settings; one row (pk=1), edited in the admin."""

    points_deduction_enabled = models.BooleanField(_("points deduction enabled"), default=True)
    points_per_yuan = models.PositiveIntegerField(
        _("points per yuan"),
        default=100,
        help_text=_("How many points make ¥1.00 off (100 = 1 point per fen)."),
    )
    max_share_bp = models.PositiveIntegerField(
        _("cap (share of the order, basis points)"),
        default=5000,
        help_text=_("Points may pay at most this share of the goods after discounts: 5000 = 50%."),
    )
    min_points = models.PositiveIntegerField(
        _("minimum points per order"), default=0, help_text=_("Fewer points than this cannot be used.")
    )
    combine_with_coupons = models.BooleanField(_("combines with coupons"), default=True)
    commit_timeout_minutes = models.PositiveIntegerField(
        _("unpaid order timeout (minutes)"),
        default=30,
        help_text=_("A committed order not completed within this time is cancelled and everything released."),
    )
    counter_confirm_above_fen = models.BigIntegerField(
        _("stored value at a counter without confirmation, up to"),
        default=20_000,
        db_default=20_000,  # rows made by older code (a migration's own model of the table) get it too
        help_text=_(
            "A counter order paying more than this from stored value waits until the member confirms it "
            "in the mini-program (within 60 seconds). 0: every stored-value payment at a counter is confirmed."
        ),
    )

    class Meta:
        verbose_name = _("checkout settings")
        verbose_name_plural = _("checkout settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(points_per_yuan__gte=1)
                & Q(max_share_bp__lte=10000)
                & Q(commit_timeout_minutes__gte=1)
                & Q(counter_confirm_above_fen__gte=0),
                name="orders_settings_sane",
            )
        ]

    def __str__(self):
        return str(_("checkout settings"))


class OrderStatus(models.TextChoices):
    COMMITTED = "committed", _("committed (awaiting payment)")
    CANCELLED = "cancelled", _("cancelled")
    COMPLETED = "completed", _("completed")
    PARTIALLY_REFUNDED = "partially_refunded", _("partially refunded")
    REFUNDED = "refunded", _("refunded")


class OrderEventKind(models.TextChoices):
    """What happened to an order (its statuses are OrderStatus)."""

    COMMIT = "commit", pgettext_lazy("order event", "placed")
    COMPLETE = "complete", pgettext_lazy("order event", "completed")
    CANCEL = "cancel", pgettext_lazy("order event", "cancelled")
    REFUND = "refund", pgettext_lazy("order event", "refunded")


#: The one place that says which event may move an order from which status to which.
TRANSITIONS: dict[str, dict[str, str]] = {
    "cancel": {OrderStatus.COMMITTED: OrderStatus.CANCELLED},
    "complete": {OrderStatus.COMMITTED: OrderStatus.COMPLETED},
    "refund": {
        OrderStatus.COMPLETED: OrderStatus.PARTIALLY_REFUNDED,
        OrderStatus.PARTIALLY_REFUNDED: OrderStatus.PARTIALLY_REFUNDED,
    },
    # A refund that leaves nothing to refund ends in REFUNDED instead (see services._refund_status).
}


class Order(models.Model):
    order_no = models.CharField(_("order number"), max_length=64, unique=True)
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(_("status"), max_length=20, choices=OrderStatus.choices, db_index=True)
    request_hash = models.CharField(max_length=64)
    quote_hash = models.CharField(_("quote hash"), max_length=64)
    # What was applied (the settlement).
    goods_fen = models.BigIntegerField(_("goods"))
    shipping_fen = models.BigIntegerField(_("shipping fee"))
    benefit_discount_fen = models.BigIntegerField(_("member discount"))
    coupon_discount_fen = models.BigIntegerField(_("coupon discount"))
    shipping_discount_fen = models.BigIntegerField(_("shipping discount"))
    points_used = models.BigIntegerField(_("points used"))
    points_fen = models.BigIntegerField(_("points deduction"))
    stored_value_fen = models.BigIntegerField(_("stored value paid"))
    cash_fen = models.BigIntegerField(_("cash due"))
    shipping_stored_value_fen = models.BigIntegerField(_("shipping paid with stored value"), default=0)
    shipping_cash_fen = models.BigIntegerField(_("shipping paid in cash"), default=0)
    coupon_ids = models.JSONField(_("coupons"), default=list, blank=True)
    benefit_sources = models.JSONField(_("benefit sources"), default=dict, blank=True)
    # The purchase points multiplier of the benefits in force at commit (tier or card, times a member
    # day), which its quote showed and its completion earns at.  Empty: committed before it was kept.
    points_multiplier = models.DecimalField(
        _("points multiplier"), max_digits=10, decimal_places=4, null=True, blank=True
    )
    points_spend_entry_id = models.BigIntegerField(_("points spend entry"), null=True, blank=True)
    stored_value_entry_id = models.BigIntegerField(_("stored value entry"), null=True, blank=True)
    # Completion.
    earned_points = models.BigIntegerField(_("points earned"), default=0)
    points_earn_entry_id = models.BigIntegerField(_("points earn entry"), null=True, blank=True)
    # Cumulative refunds (CHECKed against what was applied).
    refunded_goods_fen = models.BigIntegerField(_("goods refunded"), default=0)
    refunded_shipping_fen = models.BigIntegerField(_("shipping refunded"), default=0)
    refunded_points = models.BigIntegerField(_("points given back"), default=0)
    refunded_points_fen = models.BigIntegerField(_("points deduction refunded"), default=0)
    refunded_stored_value_fen = models.BigIntegerField(_("stored value refunded"), default=0)
    refunded_cash_fen = models.BigIntegerField(_("cash refunded"), default=0)
    reversed_earned_points = models.BigIntegerField(_("earned points clawed back"), default=0)
    committed_at = models.DateTimeField(_("committed at"))
    expires_at = models.DateTimeField(_("pay by"), db_index=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
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
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [models.Index(fields=["member", "-id"], name="order_member_recent")]
        constraints = [
            models.CheckConstraint(
                condition=Q(goods_fen__gte=0)
                & Q(shipping_fen__gte=0)
                & Q(benefit_discount_fen__gte=0)
                & Q(coupon_discount_fen__gte=0)
                & Q(shipping_discount_fen__gte=0, shipping_discount_fen__lte=F("shipping_fen"))
                & Q(points_used__gte=0)
                & Q(points_fen__gte=0)
                & Q(stored_value_fen__gte=0)
                & Q(cash_fen__gte=0)
                & Q(
                    goods_fen=F("benefit_discount_fen")
                    + F("coupon_discount_fen")
                    + F("points_fen")
                    + F("stored_value_fen")
                    + F("cash_fen")
                    - F("shipping_fen")
                    + F("shipping_discount_fen")
                )
                & Q(
                    shipping_fen=F("shipping_discount_fen")
                    + F("shipping_stored_value_fen")
                    + F("shipping_cash_fen")
                )
                & Q(shipping_stored_value_fen__gte=0, shipping_stored_value_fen__lte=F("stored_value_fen"))
                & Q(shipping_cash_fen__gte=0, shipping_cash_fen__lte=F("cash_fen")),
                name="order_settlement_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(refunded_goods_fen__gte=0, refunded_goods_fen__lte=F("goods_fen"))
                & Q(refunded_shipping_fen__gte=0, refunded_shipping_fen__lte=F("shipping_fen"))
                & Q(refunded_points__gte=0, refunded_points__lte=F("points_used"))
                & Q(refunded_points_fen__gte=0, refunded_points_fen__lte=F("points_fen"))
                & Q(refunded_stored_value_fen__gte=0, refunded_stored_value_fen__lte=F("stored_value_fen"))
                & Q(refunded_cash_fen__gte=0, refunded_cash_fen__lte=F("cash_fen"))
                & Q(reversed_earned_points__gte=0, reversed_earned_points__lte=F("earned_points")),
                name="order_refunds_within_applied",
            ),
        ]

    def __str__(self):
        return self.order_no

    @property
    def total_fen(self) -> int:
        return self.goods_fen + self.shipping_fen

    @property
    def total_display(self) -> str:
        return format_fen(self.total_fen)


class OrderLine(models.Model):
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="lines")
    line_no = models.PositiveIntegerField(_("line"))
    sku = models.CharField(_("SKU"), max_length=64)
    category = models.CharField(_("category"), max_length=64, blank=True)
    name = models.CharField(_("name"), max_length=120)
    unit_price_fen = models.BigIntegerField(_("unit price"))
    quantity = models.PositiveIntegerField(_("quantity"))
    amount_fen = models.BigIntegerField(_("amount"))
    benefit_discount_fen = models.BigIntegerField(_("member discount"))
    coupon_discount_fen = models.BigIntegerField(_("coupon discount"))
    points = models.BigIntegerField(_("points used"))
    points_fen = models.BigIntegerField(_("points deduction"))
    stored_value_fen = models.BigIntegerField(_("stored value paid"))
    cash_fen = models.BigIntegerField(_("cash"))
    refunded_quantity = models.PositiveIntegerField(_("quantity refunded"), default=0)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_no"], name="order_line_unique"),
            models.CheckConstraint(
                condition=Q(unit_price_fen__gt=0)
                & Q(quantity__gt=0)
                & Q(amount_fen=F("unit_price_fen") * F("quantity"))
                & Q(benefit_discount_fen__gte=0)
                & Q(coupon_discount_fen__gte=0)
                & Q(points__gte=0)
                & Q(points_fen__gte=0)
                & Q(stored_value_fen__gte=0)
                & Q(cash_fen__gte=0)
                & Q(
                    amount_fen=F("benefit_discount_fen")
                    + F("coupon_discount_fen")
                    + F("points_fen")
                    + F("stored_value_fen")
                    + F("cash_fen")
                )
                & Q(refunded_quantity__gte=0, refunded_quantity__lte=F("quantity")),
                name="order_line_adds_up",
            ),
        ]

    def __str__(self):
        return f"{self.order_id}#{self.line_no} {self.sku} × {self.quantity}"


class OrderEvent(models.Model):
    """The status history, append-only."""

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(_("event"), max_length=16, choices=OrderEventKind.choices)
    from_status = models.CharField(_("from"), max_length=20, blank=True, choices=OrderStatus.choices)
    to_status = models.CharField(_("to"), max_length=20, choices=OrderStatus.choices)
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["order", "id"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.get_from_status_display()} → {self.get_to_status_display()}"


class Refund(models.Model):
    """One refund of a completed order (the merchant's refund_no), append-only."""

    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="refunds"
    )
    refund_no = models.CharField(_("refund number"), max_length=64)
    request_hash = models.CharField(max_length=64)
    goods_fen = models.BigIntegerField(_("goods"))
    shipping_fen = models.BigIntegerField(_("shipping refunded"))
    points = models.BigIntegerField(_("points given back"))
    points_fen = models.BigIntegerField(_("points deduction refunded"))
    stored_value_fen = models.BigIntegerField(_("stored value refunded"))
    cash_fen = models.BigIntegerField(_("cash to refund"))
    earned_points_reversed = models.BigIntegerField(_("earned points clawed back"))
    coupons_restored = models.JSONField(_("coupons restored"), default=list, blank=True)
    points_reverse_entry_id = models.BigIntegerField(_("points refund entry"), null=True, blank=True)
    earn_reverse_entry_id = models.BigIntegerField(_("points clawback entry"), null=True, blank=True)
    stored_value_entry_id = models.BigIntegerField(_("stored value refund entry"), null=True, blank=True)
    # The member's account was closed (注销) before this refund: nothing went back to it (see
    # docs/rules/account-closure.md).  Its points, coupons and earned points stay as the closure left
    # them; its stored value was paid out: the principal here, for the merchant to return with the cash.
    account_closed = models.BooleanField(_("account closed: nothing given back to it"), default=False)
    stored_value_paid_out_fen = models.BigIntegerField(_("stored value to return outside"), default=0)
    stored_value_payout_entry_id = models.BigIntegerField(
        _("stored value payout entry"), null=True, blank=True
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "refund_no"], name="order_refund_no_unique"),
            models.CheckConstraint(
                condition=Q(stored_value_paid_out_fen__gte=0)
                & Q(stored_value_paid_out_fen__lte=F("stored_value_fen"))
                & (Q(account_closed=True) | Q(stored_value_paid_out_fen=0)),
                name="refund_paid_out_only_for_a_closed_account",
            ),
        ]

    def __str__(self):
        return f"{self.order_id}/{self.refund_no}"


class RefundLine(models.Model):
    refund = models.ForeignKey(
        Refund, verbose_name=_("refund"), on_delete=models.PROTECT, related_name="lines"
    )
    line = models.ForeignKey(OrderLine, verbose_name=_("order line"), on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField(_("quantity"))
    benefit_discount_fen = models.BigIntegerField(_("member discount"))
    coupon_discount_fen = models.BigIntegerField(_("coupon discount"))
    points = models.BigIntegerField(_("points used"))
    points_fen = models.BigIntegerField(_("points deduction"))
    stored_value_fen = models.BigIntegerField(_("stored value paid"))
    cash_fen = models.BigIntegerField(_("cash"))

    class Meta:
        verbose_name = _("refund line")
        verbose_name_plural = _("refund lines")
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0)
                & Q(benefit_discount_fen__gte=0)
                & Q(coupon_discount_fen__gte=0)
                & Q(points__gte=0)
                & Q(points_fen__gte=0)
                & Q(stored_value_fen__gte=0)
                & Q(cash_fen__gte=0),
                name="refund_line_not_negative",
            )
        ]

    def __str__(self):
        return f"{self.refund_id}: line {self.line_id} × {self.quantity}"


class CounterPaymentStatus(models.TextChoices):
    PENDING = "pending", _("awaiting the member")
    CONFIRMED = "confirmed", _("confirmed")
    DECLINED = "declined", _("declined")


class CounterPayment(models.Model):
    """A stored-value payment at a counter above the merchant's limit, waiting for the member's word.

    The till's commit creates it (and answers 202) instead of debiting; the member confirms or declines
    in the mini-program within ``CONFIRM_SECONDS``; the till's retry of the same commit then debits (it
    was confirmed) or is refused.  One per order number; a pending one past ``expires_at`` has timed out.
    """

    CONFIRM_SECONDS = 60

    order_no = models.CharField(_("order number"), max_length=64, unique=True)
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="+"
    )
    store = models.ForeignKey(
        "stores.Store", verbose_name=_("store"), on_delete=models.PROTECT, related_name="+"
    )
    staff = models.ForeignKey(
        "stores.Staff",
        verbose_name=_("staff"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    request_hash = models.CharField(max_length=64)
    stored_value_fen = models.BigIntegerField(_("stored value to pay"))
    goods_fen = models.BigIntegerField(_("goods"))
    status = models.CharField(
        _("status"), max_length=10, choices=CounterPaymentStatus.choices, default=CounterPaymentStatus.PENDING
    )
    created_at = models.DateTimeField(_("asked at"))
    expires_at = models.DateTimeField(_("answer by"))
    decided_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("counter payment confirmation")
        verbose_name_plural = _("counter payment confirmations")
        indexes = [models.Index(fields=["member", "status"], name="counter_payment_member")]
        constraints = [
            models.CheckConstraint(condition=Q(stored_value_fen__gt=0), name="counter_payment_positive")
        ]

    def __str__(self):
        return self.order_no

    def timed_out(self, now) -> bool:
        return self.status == CounterPaymentStatus.PENDING and self.expires_at <= now
