"""The membership programme: tiers and growth value, cards, member days (tables keep their members_ names)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from members.models import Member

# --- membership: tiers and growth value (成长值) ---------------------------------------------


class Tier(models.Model):
    """A level members reach by growth value earned in the rolling window (普通 / 白银 / 黄金 / 钻石)."""

    level = models.PositiveSmallIntegerField(_("level"), unique=True, help_text=_("0 is the entry tier."))
    name = models.CharField(_("name"), max_length=30)
    growth_threshold = models.BigIntegerField(
        _("growth threshold"), help_text=_("Growth value in the rolling window needed to reach this tier.")
    )
    discount_bp = models.PositiveIntegerField(
        _("discount (basis points)"), default=0, help_text=_("500 = 5% off (9.5折).")
    )
    points_multiplier = models.DecimalField(_("points multiplier"), max_digits=5, decimal_places=2, default=1)
    free_shipping = models.BooleanField(_("free shipping"), default=False)
    birthday_pack = models.ForeignKey(
        "coupons.GiftPack",
        verbose_name=_("birthday gift pack"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    upgrade_pack = models.ForeignKey(
        "coupons.GiftPack",
        verbose_name=_("upgrade gift pack"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        db_table = "members_tier"
        # A membership level (等级), not a recharge plan's tier (档位): the same English word.
        verbose_name = pgettext_lazy("membership", "tier")
        verbose_name_plural = pgettext_lazy("membership", "tiers")
        ordering = ["level"]
        constraints = [
            models.CheckConstraint(condition=Q(growth_threshold__gte=0), name="tier_threshold_nonnegative"),
            models.CheckConstraint(
                condition=Q(level__gt=0) | Q(growth_threshold=0), name="tier_entry_at_zero"
            ),
            models.CheckConstraint(condition=Q(discount_bp__lt=10000), name="tier_discount_below_100"),
            models.CheckConstraint(
                condition=Q(points_multiplier__gte=1), name="tier_multiplier_at_least_one"
            ),
        ]

    def __str__(self):
        return f"{self.level} · {self.name}"


class BirthdayMode(models.TextChoices):
    MONTH = "month", _("on the first day of the birthday month")
    DAY = "day", _("on the birthday")


class MembershipPolicy(models.Model):
    """The merchant's membership settings (one row)."""

    window_months = models.PositiveSmallIntegerField(
        _("rolling window (months)"),
        default=12,
        help_text=_("Growth earned in this window decides the tier."),
    )
    protection_days = models.PositiveIntegerField(
        _("protection after an upgrade (days)"), default=90, help_text=_("No downgrade within this period.")
    )
    downgrade_period_days = models.PositiveIntegerField(
        _("days between downgrades"), default=30, help_text=_("A member drops at most one level per period.")
    )
    growth_per_yuan = models.PositiveIntegerField(_("growth value per yuan paid"), default=1)
    birthday_mode = models.CharField(
        _("birthday gift"), max_length=8, choices=BirthdayMode.choices, default=BirthdayMode.MONTH
    )
    card_reminder_days = models.PositiveSmallIntegerField(
        _("remind of expiring cards (days ahead)"), default=7
    )
    new_member_pack = models.ForeignKey(
        "coupons.GiftPack",
        verbose_name=_("new-member gift pack"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Given once to each new member when they register. Empty: none."),
    )

    class Meta:
        db_table = "members_membershippolicy"
        verbose_name = _("membership policy")
        verbose_name_plural = _("membership policy")

    def __str__(self):
        return str(_("membership policy"))


class Membership(models.Model):
    """A member's standing: tier, cached growth, cumulative paid spend and completed orders.

    Created on the member's first membership event.  The row is the lock every
    membership write takes for its member; ``growth_total`` equals the sum of
    the member's growth entries (verified).
    """

    member = models.OneToOneField(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="membership"
    )
    tier_level = models.PositiveSmallIntegerField(_("tier level"), default=0)
    growth_total = models.BigIntegerField(_("growth value (lifetime)"), default=0)
    paid_total_fen = models.BigIntegerField(_("cumulative paid spend"), default=0)
    completed_orders = models.PositiveIntegerField(_("completed orders"), default=0)
    tier_changed_at = models.DateTimeField(_("tier changed at"), null=True, blank=True)
    protected_until = models.DateTimeField(_("no downgrade before"), null=True, blank=True)

    class Meta:
        db_table = "members_membership"
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.CheckConstraint(condition=Q(growth_total__gte=0), name="membership_growth_nonnegative"),
            models.CheckConstraint(condition=Q(paid_total_fen__gte=0), name="membership_paid_nonnegative"),
        ]

    def __str__(self):
        return f"{self.member} · {self.tier_level}"


class GrowthEntry(models.Model):
    """One change of growth value. Append-only: the database refuses UPDATE and DELETE.

    ``counts_at`` places the entry in the rolling window: an order's growth
    counts from its completion, and a refund of it counts at the same instant,
    so a refund never takes growth out of a window its order was not in.
    """

    class Kind(models.TextChoices):
        ORDER = "order", _("order")
        REFUND = "refund", _("refund")
        TASK = "task", _("task")
        ADJUST = "adjust", _("adjust")

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    amount = models.BigIntegerField(_("growth value"))
    paid_fen = models.BigIntegerField(_("paid"), default=0)
    order_no = models.CharField(_("order number"), max_length=64, blank=True, db_index=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    counts_at = models.DateTimeField(_("counts at"))
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        db_table = "members_growthentry"
        verbose_name = _("growth entry")
        verbose_name_plural = _("growth ledger")
        constraints = [
            models.UniqueConstraint(fields=["member", "idempotency_key"], name="uniq_growth_entry_key"),
        ]
        indexes = [models.Index(fields=["member", "counts_at"], name="growth_member_counts_at")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount:+d}"


class TierChange(models.Model):
    """Tier history: every change of a member's tier with its reason. Append-only."""

    class Reason(models.TextChoices):
        ORDER = "order", _("order completed")
        TASK = "task", _("task")
        NIGHTLY_UPGRADE = "nightly_up", _("nightly recalculation: upgrade")
        NIGHTLY_DOWNGRADE = "nightly_down", _("nightly recalculation: downgrade")
        REFUND = "refund", _("refund")
        OPERATOR = "operator", _("operator")

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="tier_changes"
    )
    from_level = models.PositiveSmallIntegerField(_("from level"))
    to_level = models.PositiveSmallIntegerField(_("to level"))
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    window_growth = models.BigIntegerField(_("growth in window"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        db_table = "members_tierchange"
        verbose_name = _("tier change")
        verbose_name_plural = _("tier history")
        indexes = [models.Index(fields=["member", "-id"], name="tierchange_member_recent")]

    def __str__(self):
        return f"{self.member_id}: {self.from_level} → {self.to_level}"


# --- membership cards (会员卡) ------------------------------------------------------------


class CardKind(models.TextChoices):
    FREE = "free", _("free (claim at will)")
    CONDITIONAL = "conditional", _("conditional")
    PAID = "paid", _("paid")


class CardValidity(models.TextChoices):
    PERMANENT = "permanent", _("permanent")
    DAYS = "days", _("N days")
    RANGE = "range", _("date range")


class CardCondition(models.TextChoices):
    PAID_SPEND = "paid_spend", _("cumulative paid spend (fen)")
    ORDERS = "orders", _("completed orders")
    POINTS_EARNED = "points", _("points earned")


class CardPeriod(models.TextChoices):
    MONTH = "month", _("monthly")
    QUARTER = "quarter", _("quarterly")
    YEAR = "year", _("yearly")


class CardType(models.Model):
    name = models.CharField(_("name"), max_length=60)
    kind = models.CharField(_("kind"), max_length=12, choices=CardKind.choices)
    description = models.TextField(_("description"), blank=True)
    validity = models.CharField(
        _("validity"), max_length=10, choices=CardValidity.choices, default=CardValidity.PERMANENT
    )
    valid_days = models.PositiveIntegerField(_("valid for (days)"), default=365)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    condition = models.CharField(_("condition"), max_length=12, choices=CardCondition.choices, blank=True)
    condition_threshold = models.BigIntegerField(_("condition threshold"), default=0)
    period = models.CharField(
        _("paid period"), max_length=8, choices=CardPeriod.choices, default=CardPeriod.MONTH
    )
    price_fen = models.BigIntegerField(_("price (fen)"), default=0)
    trial_days = models.PositiveIntegerField(
        _("free trial (days)"), default=0, help_text=_("Paid cards: a free trial once per member; 0 = none.")
    )
    discount_bp = models.PositiveIntegerField(_("discount (basis points)"), default=0)
    free_shipping = models.BooleanField(_("free shipping"), default=False)
    points_multiplier = models.DecimalField(_("points multiplier"), max_digits=5, decimal_places=2, default=1)
    opening_pack = models.ForeignKey(
        "coupons.GiftPack",
        verbose_name=_("opening gift pack"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    monthly_pack = models.ForeignKey(
        "coupons.GiftPack",
        verbose_name=_("monthly coupons"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Given to every holder of a valid card once a month."),
    )
    background_image = models.URLField(_("background image"), max_length=500, blank=True)
    colour = models.CharField(_("colour"), max_length=7, default="#1F2937")
    logo_url = models.URLField(_("logo"), max_length=500, blank=True)
    available_from = models.DateTimeField(_("available from"), null=True, blank=True)
    available_until = models.DateTimeField(_("available until"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "members_cardtype"
        verbose_name = _("card type")
        verbose_name_plural = _("card types")
        constraints = [
            models.CheckConstraint(condition=Q(discount_bp__lt=10000), name="cardtype_discount_below_100"),
            models.CheckConstraint(
                condition=Q(points_multiplier__gte=1), name="cardtype_multiplier_at_least_one"
            ),
            models.CheckConstraint(
                condition=~Q(kind="paid") | Q(price_fen__gte=1), name="cardtype_paid_price"
            ),
            models.CheckConstraint(
                condition=~Q(kind="conditional") | (~Q(condition="") & Q(condition_threshold__gte=1)),
                name="cardtype_conditional_condition",
            ),
            models.CheckConstraint(
                condition=~Q(validity="range") | (Q(valid_from__isnull=False) & Q(valid_until__isnull=False)),
                name="cardtype_range_dates",
            ),
        ]

    def __str__(self):
        return self.name


class CardStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    REVOKED = "revoked", _("revoked")


class CardSource(models.TextChoices):
    """How a member got a card (``cards.py`` passes one; its first event is of the same kind)."""

    CLAIM = "claim", _("claimed")
    CONDITION = "condition", _("condition met")
    OPERATOR = "operator", _("granted by an operator")
    TRIAL = "trial", _("free trial")
    PURCHASE = "purchase", _("bought")
    RENEW = "renew", _("renewed")


class CardEventKind(models.TextChoices):
    CLAIM = "claim", _("claimed")
    CONDITION = "condition", _("condition met")
    OPERATOR = "operator", _("granted by an operator")
    TRIAL = "trial", _("free trial")
    PURCHASE = "purchase", _("bought")
    RENEW = "renew", _("renewed")
    REVOKE = "revoke", _("revoked")
    REFUND = "refund", _("refunded")
    UNDO = "undo", _("withdrawn: its order was refunded")


class MembershipCard(models.Model):
    """A member's card of one type (at most one per type; renewals extend it).

    Valid at ``t`` when active and ``valid_from <= t < valid_until``
    (``valid_until`` empty = permanent).
    """

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="cards"
    )
    card_type = models.ForeignKey(
        CardType, verbose_name=_("card type"), on_delete=models.PROTECT, related_name="cards"
    )
    status = models.CharField(
        _("status"), max_length=8, choices=CardStatus.choices, default=CardStatus.ACTIVE
    )
    source = models.CharField(_("source"), max_length=12, choices=CardSource.choices)
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    trial_used = models.BooleanField(_("trial used"), default=False)
    channel = models.CharField(_("channel"), max_length=64, blank=True, db_index=True)
    staff = models.CharField(_("staff"), max_length=64, blank=True, db_index=True)
    store = models.ForeignKey(
        "stores.Store",
        verbose_name=_("store"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "members_membershipcard"
        verbose_name = _("membership card")
        verbose_name_plural = _("membership cards")
        constraints = [
            models.UniqueConstraint(fields=["member", "card_type"], name="uniq_card_per_member_type"),
        ]
        indexes = [
            models.Index(fields=["valid_until"], condition=Q(status="active"), name="card_active_until")
        ]
        permissions = [("grant_card", _("Can grant and revoke membership cards"))]

    def __str__(self):
        return f"{self.card_type} · {self.member}"

    def is_valid_at(self, at) -> bool:
        return (
            self.status == CardStatus.ACTIVE
            and self.valid_from <= at
            and (self.valid_until is None or at < self.valid_until)
        )


class CardEvent(models.Model):
    """What happened to a card and why. Append-only."""

    card = models.ForeignKey(
        MembershipCard, verbose_name=_("membership card"), on_delete=models.PROTECT, related_name="events"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=CardEventKind.choices)
    valid_until = models.DateTimeField(_("valid until after"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("operator"), null=True, blank=True, on_delete=models.PROTECT
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        db_table = "members_cardevent"
        verbose_name = _("card event")
        verbose_name_plural = _("card events")

    def __str__(self):
        return f"{self.card_id} {self.get_kind_display()}"


class PurchaseStatus(models.TextChoices):
    CREATED = "created", _("awaiting payment")
    PAID = "paid", _("paid")
    CLOSED = "closed", _("closed")
    REFUNDED = "refunded", _("refunded")


class CardPurchase(models.Model):
    """One period of a paid card bought through WeChat Pay (``payments`` purpose ``card``)."""

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="card_purchases"
    )
    card_type = models.ForeignKey(CardType, verbose_name=_("card type"), on_delete=models.PROTECT)
    card = models.ForeignKey(
        MembershipCard, verbose_name=_("card"), null=True, blank=True, on_delete=models.PROTECT
    )
    period = models.CharField(_("period"), max_length=8, choices=CardPeriod.choices)
    amount_fen = models.BigIntegerField(_("amount"))
    status = models.CharField(
        _("status"), max_length=8, choices=PurchaseStatus.choices, default=PurchaseStatus.CREATED
    )
    out_trade_no = models.CharField(_("payment number"), max_length=32, blank=True)
    period_start = models.DateTimeField(_("period start"), null=True, blank=True)
    period_end = models.DateTimeField(_("period end"), null=True, blank=True)
    refunded_fen = models.BigIntegerField(_("refunded"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)

    class Meta:
        db_table = "members_cardpurchase"
        verbose_name = _("card purchase")
        verbose_name_plural = _("card purchases")
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_fen__gte=1)
                & Q(refunded_fen__gte=0)
                & Q(refunded_fen__lte=F("amount_fen")),
                name="cardpurchase_amounts",
            ),
        ]
        permissions = [("refund_card", _("Can refund paid cards"))]

    def __str__(self):
        return f"{self.card_type} #{self.pk}"


# --- member days (会员日) -----------------------------------------------------------------


class MemberDay(models.Model):
    class Recurrence(models.TextChoices):
        WEEKLY = "weekly", _("every week")
        MONTHLY = "monthly", _("every month")

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    class Audience(models.TextChoices):
        EVERYONE = "everyone", _("everyone")
        TIERS = "tiers", pgettext_lazy("membership", "tiers")
        CARD_HOLDERS = "card_holders", _("card holders")
        SEGMENT = "segment", _("segment")
        TAGS = "tags", _("member tags")

    name = models.CharField(_("name"), max_length=60)
    recurrence = models.CharField(_("recurrence"), max_length=8, choices=Recurrence.choices)
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices, null=True, blank=True)
    day_of_month = models.PositiveSmallIntegerField(_("day of month"), null=True, blank=True)
    points_multiplier = models.DecimalField(_("points multiplier"), max_digits=5, decimal_places=2, default=1)
    extra_discount_bp = models.PositiveIntegerField(_("extra discount (basis points)"), default=0)
    push_pack = models.ForeignKey(
        "coupons.GiftPack",
        verbose_name=_("gift pack pushed"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    audience = models.CharField(_("audience"), max_length=16, choices=Audience.choices, default="everyone")
    audience_values = models.JSONField(
        _("audience values"),
        default=list,
        blank=True,
        help_text=_("Tier levels, card type ids or a segment id."),
    )
    starts_on = models.DateField(_("first day"), null=True, blank=True)
    ends_on = models.DateField(_("last day"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        db_table = "members_memberday"
        verbose_name = _("member day")
        verbose_name_plural = _("member days")
        constraints = [
            models.CheckConstraint(
                condition=(Q(recurrence="weekly") & Q(weekday__isnull=False))
                | (Q(recurrence="monthly") & Q(day_of_month__gte=1) & Q(day_of_month__lte=31)),
                name="memberday_recurrence_day",
            ),
            models.CheckConstraint(condition=Q(points_multiplier__gte=1), name="memberday_multiplier"),
            models.CheckConstraint(condition=Q(extra_discount_bp__lt=10000), name="memberday_discount"),
        ]

    def __str__(self):
        return self.name


class MemberDayRun(models.Model):
    """One occurrence of a member day being pushed: created once, resumed by its cursor, finished once."""

    member_day = models.ForeignKey(MemberDay, on_delete=models.PROTECT, related_name="runs")
    occurrence = models.DateField(_("day"))
    last_member_id = models.BigIntegerField(default=0)
    pushed = models.PositiveIntegerField(_("pushed"), default=0)
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        db_table = "members_memberdayrun"
        verbose_name = _("member day run")
        verbose_name_plural = _("member day runs")
        constraints = [
            models.UniqueConstraint(fields=["member_day", "occurrence"], name="uniq_memberday_occurrence")
        ]

    def __str__(self):
        return f"{self.member_day} {self.occurrence}"
