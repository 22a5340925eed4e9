"""Growth tools (裂变): 拼团 group buying — activities, groups, the places members pay for, and their events.

Invariants (``growth.verify`` lists every violation):
- An activity's ``sold_count`` never exceeds ``stock_total`` (CHECK) and is
  taken by a conditional UPDATE when a payment arrives, so units are never
  oversold; it equals the activity's places that hold a unit (joined or
  completed).
- A group's ``joined_count`` never exceeds its ``size`` (CHECK) and equals
  its places joined or completed; a complete group has exactly ``size``.
- A member holds at most one live place (awaiting payment, joined or
  completed) in a group (a partial unique index): no joining one's own group.
- Every change of a group or a place is a ``GroupEvent`` row (append-only:
  a trigger refuses UPDATE and DELETE).
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from loyalty.money import format_fen

MIN_GROUP_SIZE, MAX_GROUP_SIZE = 2, 50


class GroupBuyActivity(models.Model):
    """A 拼团 offer: a mall item (physical, shipped; or a coupon) at a group price for groups of ``group_size``."""

    name = models.CharField(_("name"), max_length=60)
    item = models.ForeignKey(
        "mall.MallItem",
        verbose_name=_("item"),
        on_delete=models.PROTECT,
        related_name="group_buy_activities",
        limit_choices_to={"kind__in": ["physical", "coupon"]},
        help_text=_("A physical item (shipped through the mall's queue) or a coupon item (issued at once)."),
    )
    group_price_fen = models.BigIntegerField(_("group price"))
    original_price_fen = models.BigIntegerField(_("original price"))
    group_size = models.PositiveSmallIntegerField(
        _("group size"), help_text=_("Members a group needs, the opener included (2–50).")
    )
    time_limit_minutes = models.PositiveIntegerField(
        _("time limit (minutes)"),
        default=24 * 60,
        help_text=_("A group not full this long after it opened fails and every payment is refunded."),
    )
    stock_total = models.PositiveIntegerField(_("units offered"))
    sold_count = models.PositiveIntegerField(_("units taken"), default=0, editable=False)
    per_member_limit = models.PositiveIntegerField(
        _("per member"),
        null=True,
        blank=True,
        help_text=_("Places a member may hold in the activity. Empty: no limit."),
    )
    new_members_only = models.BooleanField(
        _("new members only may join (老带新)"),
        default=False,
        help_text=_("Joiners must have registered since the activity started; anyone may open a group."),
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(
        _("ends at"), help_text=_("No group opens after this; open groups run to their deadline.")
    )
    is_active = models.BooleanField(_("on"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("group-buy activity")
        verbose_name_plural = _("group-buy activities")
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(group_price_fen__gte=1) & Q(original_price_fen__gte=F("group_price_fen")),
                name="growth_group_buy_prices",
            ),
            models.CheckConstraint(
                condition=Q(group_size__gte=MIN_GROUP_SIZE) & Q(group_size__lte=MAX_GROUP_SIZE),
                name="growth_group_buy_size",
            ),
            models.CheckConstraint(
                condition=Q(sold_count__lte=F("stock_total")), name="growth_group_buy_stock"
            ),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="growth_group_buy_window"),
            models.CheckConstraint(
                condition=Q(time_limit_minutes__gte=1), name="growth_group_buy_time_limit"
            ),
        ]

    def __str__(self):
        return f"{self.name} {format_fen(self.group_price_fen)}×{self.group_size}"

    @property
    def stock_left(self) -> int:
        return self.stock_total - self.sold_count


class GroupState(models.TextChoices):
    OPEN = "open", _("open, waiting for members")
    COMPLETE = "complete", _("complete")
    FAILED = "failed", _("failed, refunded")


class Group(models.Model):
    """A group, opened when its leader's payment arrived; its price and size are frozen from the activity."""

    activity = models.ForeignKey(
        GroupBuyActivity, verbose_name=_("activity"), on_delete=models.PROTECT, related_name="groups"
    )
    leader = models.ForeignKey(
        "members.Member", verbose_name=_("leader"), on_delete=models.PROTECT, related_name="led_groups"
    )
    state = models.CharField(_("state"), max_length=8, choices=GroupState.choices, default=GroupState.OPEN)
    size = models.PositiveSmallIntegerField(_("group size"))
    price_fen = models.BigIntegerField(_("group price"))
    joined_count = models.PositiveSmallIntegerField(_("members joined"), default=1)
    deadline = models.DateTimeField(_("deadline"))
    opened_at = models.DateTimeField(_("opened at"))
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("failed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("buying group")
        verbose_name_plural = _("buying groups")
        constraints = [
            models.CheckConstraint(
                condition=Q(joined_count__lte=F("size")), name="growth_group_not_overfull"
            ),
            models.CheckConstraint(
                condition=~Q(state="complete") | Q(joined_count=F("size")),
                name="growth_group_complete_is_full",
            ),
        ]
        indexes = [
            models.Index(fields=["deadline"], condition=Q(state="open"), name="growth_group_open_deadline")
        ]

    def __str__(self):
        return f"#{self.pk} {self.get_state_display()} {self.joined_count}/{self.size}"


class PlaceRole(models.TextChoices):
    LEADER = "leader", _("leader (opened the group)")
    MEMBER = "member", _("member (joined)")


class PlaceStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("awaiting payment")
    JOINED = "joined", _("paid, in the group")
    COMPLETED = "completed", _("group complete, fulfilled")
    REFUNDED = "refunded", _("refunded")
    CLOSED = "closed", _("not paid in time")


LIVE_STATUSES = [PlaceStatus.PENDING_PAYMENT, PlaceStatus.JOINED, PlaceStatus.COMPLETED]
HOLDING_STATUSES = [PlaceStatus.JOINED, PlaceStatus.COMPLETED]  # the places that hold a unit of stock


class GroupMember(models.Model):
    """A member's place in a group, bought with one WeChat Pay payment (purpose ``group_buy``).

    A leader's place has no group until its payment arrives (the group opens then).
    """

    activity = models.ForeignKey(
        GroupBuyActivity, verbose_name=_("activity"), on_delete=models.PROTECT, related_name="places"
    )
    group = models.ForeignKey(
        Group,
        verbose_name=_("buying group"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="places",
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="group_places"
    )
    role = models.CharField(_("role"), max_length=8, choices=PlaceRole.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=PlaceStatus.choices, default=PlaceStatus.PENDING_PAYMENT
    )
    amount_fen = models.BigIntegerField(_("amount"))
    out_trade_no = models.CharField(_("payment number"), max_length=32, blank=True)
    idempotency_key = models.CharField(max_length=128)
    request_hash = models.CharField(max_length=64)
    recipient = models.CharField(_("recipient"), max_length=40, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    redemption_id = models.BigIntegerField(_("mall redemption"), null=True, blank=True)
    coupon_id = models.BigIntegerField(_("coupon"), null=True, blank=True)
    refund_reason = models.CharField(_("refund reason"), max_length=80, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("group place")
        verbose_name_plural = _("group places")
        permissions = [("refund_sale", _("Can refund a completed group place or a bought bargain"))]
        constraints = [
            models.UniqueConstraint(fields=["member", "idempotency_key"], name="growth_place_key_once"),
            models.UniqueConstraint(
                fields=["group", "member"],
                condition=Q(status__in=["pending_payment", "joined", "completed"]),
                name="growth_one_live_place_per_group",
            ),
            models.CheckConstraint(condition=Q(amount_fen__gte=1), name="growth_place_amount"),
            models.CheckConstraint(
                condition=Q(role="leader") | Q(group__isnull=False), name="growth_joiner_has_group"
            ),
        ]
        indexes = [models.Index(fields=["activity", "member"], name="growth_place_member_limit")]

    def __str__(self):
        return f"{self.member_id} {self.get_role_display()} {self.get_status_display()}"


class GroupEventKind(models.TextChoices):
    PLACED = "placed", _("place taken, awaiting payment")
    OPENED = "opened", _("group opened (leader paid)")
    JOINED = "joined", _("joined (paid)")
    COMPLETED = "completed", _("group complete")
    FULFILLED = "fulfilled", _("fulfilled")
    REFUNDED = "refunded", _("payment refunded")
    CLOSED = "closed", _("payment not made in time")
    FAILED = "failed", _("group failed")


class GroupEvent(models.Model):
    """Append-only history of groups and places."""

    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    place = models.ForeignKey(
        GroupMember, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    kind = models.CharField(_("event"), max_length=16, choices=GroupEventKind.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("group event")
        verbose_name_plural = _("group events")

    def __str__(self):
        return self.get_kind_display()


class RefundedPlace(GroupMember):
    """The refund report: refunded places, as an admin list of their own."""

    class Meta:
        proxy = True
        verbose_name = _("group-buy refund")
        verbose_name_plural = _("group-buy refund report")


# --- 砍价 bargaining ---------------------------------------------------------------------------------

MAX_HELPERS = 100


class BargainActivity(models.Model):
    """A 砍价 offer: friends each cut the price of an item, from the original price to the floor in
    exactly ``helpers_needed`` cuts."""

    name = models.CharField(_("name"), max_length=60)
    item = models.ForeignKey(
        "mall.MallItem",
        verbose_name=_("item"),
        on_delete=models.PROTECT,
        related_name="bargain_activities",
        limit_choices_to={"kind__in": ["physical", "coupon"]},
        help_text=_("A physical item (shipped through the mall's queue) or a coupon item (issued at once)."),
    )
    original_price_fen = models.BigIntegerField(_("original price"))
    floor_price_fen = models.BigIntegerField(_("floor price"), help_text=_("The lowest price cuts reach."))
    helpers_needed = models.PositiveSmallIntegerField(
        _("helpers to reach the floor"),
        help_text=_("The floor is reached with exactly this many cuts (1–100)."),
    )
    time_limit_minutes = models.PositiveIntegerField(
        _("time limit (minutes)"),
        default=24 * 60,
        help_text=_("From the start of a bargain to its last purchase."),
    )
    stock_total = models.PositiveIntegerField(_("units offered"))
    sold_count = models.PositiveIntegerField(_("units taken"), default=0, editable=False)
    per_member_limit = models.PositiveIntegerField(
        _("per member"), null=True, blank=True, help_text=_("Bargains a member may start. Empty: no limit.")
    )
    helpers_must_be_new = models.BooleanField(
        _("helpers must be new members"),
        default=False,
        help_text=_("Helpers must have registered since the activity started."),
    )
    helper_daily_limit = models.PositiveSmallIntegerField(
        _("cuts per helper per day"),
        null=True,
        blank=True,
        help_text=_("Across the activity's bargains, per merchant day. Empty: no limit."),
    )
    buy_above_floor = models.BooleanField(
        _("may buy above the floor"), default=False, help_text=_("Buy at the price reached before the floor.")
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    is_active = models.BooleanField(_("on"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("bargain activity")
        verbose_name_plural = _("bargain activities")
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(floor_price_fen__gte=1)
                & Q(original_price_fen__gte=F("floor_price_fen") + F("helpers_needed")),
                name="growth_bargain_prices",
            ),
            models.CheckConstraint(
                condition=Q(helpers_needed__gte=1) & Q(helpers_needed__lte=MAX_HELPERS),
                name="growth_bargain_helpers",
            ),
            models.CheckConstraint(
                condition=Q(sold_count__lte=F("stock_total")), name="growth_bargain_stock"
            ),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="growth_bargain_window"),
            models.CheckConstraint(condition=Q(time_limit_minutes__gte=1), name="growth_bargain_time_limit"),
        ]

    def __str__(self):
        return self.name


class BargainState(models.TextChoices):
    OPEN = "open", _("cutting")
    PENDING_PAYMENT = "pending_payment", _("awaiting payment")
    PAID = "paid", _("bought, fulfilled")
    EXPIRED = "expired", _("ended unbought")
    REFUNDED = "refunded", _("bought, then refunded")


class Bargain(models.Model):
    """One member's bargain: its cuts are drawn at the start (``cuts``, from ``seed``) and taken in order."""

    activity = models.ForeignKey(
        BargainActivity, verbose_name=_("activity"), on_delete=models.PROTECT, related_name="bargains"
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="bargains"
    )
    state = models.CharField(
        _("state"), max_length=16, choices=BargainState.choices, default=BargainState.OPEN
    )
    original_price_fen = models.BigIntegerField(_("original price"))
    floor_price_fen = models.BigIntegerField(_("floor price"))
    price_fen = models.BigIntegerField(_("price reached"))
    helpers_needed = models.PositiveSmallIntegerField(_("helpers to reach the floor"))
    helps_count = models.PositiveSmallIntegerField(_("cuts"), default=0)
    seed = models.BigIntegerField(_("seed"))
    cuts = ArrayField(models.BigIntegerField(), verbose_name=_("cut sequence"))
    buy_above_floor = models.BooleanField(_("may buy above the floor"))
    deadline = models.DateTimeField(_("deadline"))
    idempotency_key = models.CharField(max_length=128)
    request_hash = models.CharField(max_length=64)
    recipient = models.CharField(_("recipient"), max_length=40, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    purchases = models.PositiveSmallIntegerField(_("purchase attempts"), default=0)
    out_trade_no = models.CharField(_("payment number"), max_length=32, blank=True)
    paid_fen = models.BigIntegerField(_("paid"), null=True, blank=True)
    redemption_id = models.BigIntegerField(_("mall redemption"), null=True, blank=True)
    coupon_id = models.BigIntegerField(_("coupon"), null=True, blank=True)
    created_at = models.DateTimeField(_("started at"), auto_now_add=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    refund_note = models.CharField(_("refund reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("bargain")
        verbose_name_plural = _("bargains")
        constraints = [
            models.UniqueConstraint(fields=["member", "idempotency_key"], name="growth_bargain_key_once"),
            models.CheckConstraint(
                condition=Q(price_fen__gte=F("floor_price_fen")), name="growth_bargain_never_below_floor"
            ),
            models.CheckConstraint(
                condition=Q(helps_count__lte=F("helpers_needed")), name="growth_bargain_helps_at_most_needed"
            ),
        ]
        indexes = [
            models.Index(fields=["deadline"], condition=Q(state="open"), name="growth_bargain_open_deadline"),
            models.Index(fields=["activity", "member"], name="growth_bargain_member_limit"),
        ]

    def __str__(self):
        return f"#{self.pk} {format_fen(self.price_fen)} {self.get_state_display()}"


class BargainHelp(models.Model):
    """One helper's cut of one bargain (append-only: a trigger refuses UPDATE and DELETE)."""

    bargain = models.ForeignKey(
        Bargain, verbose_name=_("bargain"), on_delete=models.PROTECT, related_name="helps"
    )
    helper = models.ForeignKey(
        "members.Member", verbose_name=_("helper"), on_delete=models.PROTECT, related_name="bargain_helps"
    )
    seq = models.PositiveSmallIntegerField(_("cut number"))
    cut_fen = models.BigIntegerField(_("cut"))
    price_after_fen = models.BigIntegerField(_("price after"))
    day = models.DateField(_("day"))
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("bargain help")
        verbose_name_plural = _("bargain helps")
        constraints = [
            models.UniqueConstraint(fields=["bargain", "helper"], name="growth_help_once_per_bargain"),
            models.UniqueConstraint(fields=["bargain", "seq"], name="growth_help_seq_once"),
            models.CheckConstraint(condition=Q(cut_fen__gte=1), name="growth_help_cut_positive"),
        ]
        indexes = [models.Index(fields=["helper", "day"], name="growth_help_daily")]

    def __str__(self):
        return f"{self.seq}: -{format_fen(self.cut_fen)}"


class PosterKind(models.TextChoices):
    GROUP = "group", _("group-buy group")
    BARGAIN = "bargain", _("bargain")
    ITEM = "item", _("mall item")
    CARD = "card", _("card type")
    SHOP = "shop", _("shop")


class PosterScene(models.Model):
    """What a share poster's mini-program code stands for: one sharer and one target, under a random code.

    The code is the ``scene`` WeChat hands the page (``growth.posters``); a friend who registers with it
    is attributed to the sharer and to ``channel``.  One row per sharer and target, so a poster drawn
    again carries the same code (and its code image is reused).  Never changed once made.
    """

    code = models.CharField(_("scene"), max_length=32, unique=True)
    member = models.ForeignKey(
        "members.Member", verbose_name=_("sharer"), on_delete=models.PROTECT, related_name="poster_scenes"
    )
    kind = models.CharField(_("kind"), max_length=8, choices=PosterKind.choices)
    target_id = models.BigIntegerField(_("target"), default=0, help_text=_("0 for the shop."))
    channel = models.CharField(_("registration channel"), max_length=64)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("poster scene")
        verbose_name_plural = _("poster scenes")
        constraints = [
            models.UniqueConstraint(fields=["member", "kind", "target_id"], name="growth_poster_scene_once")
        ]

    def __str__(self):
        return self.code
