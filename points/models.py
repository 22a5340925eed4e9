"""The points ledger.

Only ``points.ledger`` writes these tables.  Invariants (checked by
``manage.py verify_ledgers``):

- ``PointsAccount.balance`` = sum of the account's entries' ``amount``.
- ``PointsLot.remaining`` = ``amount`` - sum of the lot's allocations.
- sum of an account's lots' ``remaining`` = max(balance, 0); a negative
  balance is a debt left by a clawback and is repaid by the next earnings.
- Entries are append-only (a trigger refuses UPDATE and DELETE).
"""

from collections.abc import Callable

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from loyalty.labels import CodeLabels

MAX_POINTS = 10**12

#: What an entry or a lot came from: the earning rules' kinds and points' own codes (below RuleKind); the
#: apps above register theirs at startup (orders ``order``, mall ``mall``, coupons ``gift_pack`` …).
SOURCES = CodeLabels()


def source_choices():
    return SOURCES.choices()


#: How an entry's reference reads, for the sources whose reference is a code rather than a number (a gift
#: pack's occasion, ``new_member``): ``{source: reference → text}``, registered at startup by the app that
#: posts them (coupons ``gift_pack``).  Other references (an order, redemption or payment number) read as stored.
REFERENCE_TEXTS: dict[str, Callable[[str], str]] = {}


class PointsAccount(models.Model):
    member = models.OneToOneField(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="points_account"
    )
    balance = models.BigIntegerField(_("balance"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("points account")
        verbose_name_plural = _("points accounts")
        permissions = [("adjust_points", _("Can adjust points balances"))]

    def __str__(self):
        return f"{self.member} · {self.balance}"


class ExpiryPolicy(models.TextChoices):
    ROLLING_DAYS = "rolling_days", _("N days after earning")
    END_OF_NEXT_YEAR = "end_of_next_year", _("end of the year after earning")
    NEVER = "never", _("never")


class EntryKind(models.TextChoices):
    EARN = "earn", _("earn")
    SPEND = "spend", _("spend")
    EXPIRE = "expire", _("expire")
    REVERSE = "reverse", _("reverse")
    ADJUST = "adjust", _("adjust")


class PointsEntry(models.Model):
    """One posting. Append-only: the database refuses UPDATE and DELETE."""

    # Every index here is paid for by every posting: the account is covered
    # by the indexes below, and the rarely used columns get partial indexes.
    account = models.ForeignKey(
        PointsAccount,
        verbose_name=_("account"),
        on_delete=models.PROTECT,
        related_name="entries",
        db_index=False,
    )
    kind = models.CharField(_("kind"), max_length=10, choices=EntryKind.choices)
    amount = models.BigIntegerField(_("points"))
    balance_after = models.BigIntegerField(_("balance after"))
    source = models.CharField(_("source"), max_length=32, blank=True, choices=source_choices)
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    memo = models.CharField(_("memo"), max_length=200, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    request_hash = models.CharField(max_length=64)
    reverses = models.ForeignKey(
        "self",
        verbose_name=_("reverses"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversals",
        db_index=False,
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("operator"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
    )
    created_at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points ledger")
        constraints = [
            models.UniqueConstraint(fields=["account", "idempotency_key"], name="uniq_points_entry_key"),
            models.CheckConstraint(condition=~Q(amount=0), name="points_entry_amount_nonzero"),
        ]
        indexes = [
            models.Index(fields=["account", "-id"], name="points_entry_account_recent"),
            # Cap sums: a member's earnings today / this month, per rule and overall.
            models.Index(
                fields=["account", "created_at"], condition=Q(kind="earn"), name="points_entry_earn_time"
            ),
            models.Index(fields=["reference"], condition=~Q(reference=""), name="points_entry_reference"),
            models.Index(
                fields=["reverses"], condition=Q(reverses__isnull=False), name="points_entry_reverses"
            ),
            models.Index(fields=["actor"], condition=Q(actor__isnull=False), name="points_entry_actor"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount:+d}"

    def reference_display(self) -> str:
        text = REFERENCE_TEXTS.get(self.source)
        return text(self.reference) if text and self.reference else self.reference


class PointsLot(models.Model):
    """Points earned together, expiring together."""

    account = models.ForeignKey(
        PointsAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="lots"
    )
    entry = models.OneToOneField(
        PointsEntry, verbose_name=_("earned by"), on_delete=models.PROTECT, related_name="lot"
    )
    amount = models.BigIntegerField(_("points"))
    remaining = models.BigIntegerField(_("remaining"))
    source = models.CharField(_("source"), max_length=32, blank=True, choices=source_choices)
    earned_at = models.DateTimeField(_("earned at"))
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)

    class Meta:
        verbose_name = _("points lot")
        verbose_name_plural = _("points lots")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="points_lot_amount_positive"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("amount")),
                name="points_lot_remaining_in_range",
            ),
        ]
        indexes = [
            # Spending order and the expiry job both read only lots with points left.
            models.Index(
                fields=["account", "expires_at", "id"], condition=Q(remaining__gt=0), name="points_lot_open"
            ),
            models.Index(fields=["expires_at"], condition=Q(remaining__gt=0), name="points_lot_open_expiry"),
        ]

    def __str__(self):
        return f"{self.remaining}/{self.amount}"


class PointsAllocation(models.Model):
    """How much of a lot an entry took (positive) or gave back (negative).

    Spends, expiries, clawbacks and negative adjustments take from lots; a
    reversed spend gives back to the lots it took from; an earn that repays
    a debt takes from its own new lot.
    """

    entry = models.ForeignKey(PointsEntry, on_delete=models.PROTECT, related_name="allocations")
    lot = models.ForeignKey(PointsLot, on_delete=models.PROTECT, related_name="allocations")
    amount = models.BigIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="points_allocation_nonzero")]

    def __str__(self):
        return f"{self.entry_id} → lot {self.lot_id}: {self.amount:+d}"


class RuleKind(models.TextChoices):
    PURCHASE = "purchase", _("purchase")
    SIGNUP = "signup", _("sign-up bonus")
    CHECKIN = "checkin", _("daily check-in")
    FIRST_ORDER = "first_order", _("first order")
    PROFILE = "profile", _("profile completion")
    INVITER = "inviter", _("invite a friend (inviter)")
    INVITEE = "invitee", _("invited by a friend (new member)")


SOURCES.register(RuleKind.choices)
SOURCES.register(
    [
        ("adjust", _("operator adjustment")),
        ("expiry", _("expired")),  # ledger.EXPIRY_SOURCE
        ("forfeit", _("forfeited")),  # ledger.points_forfeit_all's default
        ("closure", _("account closed")),  # what account closure passes to points_forfeit_all
        ("demo", _("demo data")),  # seed_demo's opening points
    ]
)


class EarningRule(models.Model):
    """How many points a behaviour earns, its caps and when they expire."""

    kind = models.CharField(_("kind"), max_length=20, choices=RuleKind.choices, unique=True)
    is_active = models.BooleanField(_("active"), default=True)
    points = models.PositiveIntegerField(
        _("points"), default=0, help_text=_("Fixed points per occurrence (all kinds except purchase).")
    )
    points_per_yuan = models.DecimalField(
        _("points per yuan"),
        max_digits=8,
        decimal_places=2,
        default=0,
        help_text=_(
            "Purchase only: points per yuan actually paid (cash and stored value; "
            "shipping and the part paid with points excluded). Rounded down per order."
        ),
    )
    streak_bonuses = models.JSONField(
        _("streak bonuses"),
        default=dict,
        blank=True,
        help_text=_('Check-in only: extra points on a day of the streak, e.g. {"3": 5, "7": 20}.'),
    )
    streak_cycle_days = models.PositiveSmallIntegerField(
        _("streak cycle (days)"),
        null=True,
        blank=True,
        help_text=_("Check-in only: after this many days the bonus cycle starts again (e.g. 7)."),
    )
    daily_cap = models.PositiveIntegerField(_("daily cap per member"), null=True, blank=True)
    monthly_cap = models.PositiveIntegerField(_("monthly cap per member"), null=True, blank=True)
    expiry_policy = models.CharField(
        _("expiry"), max_length=20, choices=ExpiryPolicy.choices, default=ExpiryPolicy.END_OF_NEXT_YEAR
    )
    expiry_days = models.PositiveIntegerField(_("expires after (days)"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("earning rule")
        verbose_name_plural = _("earning rules")
        constraints = [
            models.CheckConstraint(
                condition=~Q(expiry_policy="rolling_days") | Q(expiry_days__gt=0),
                name="points_rule_rolling_needs_days",
            )
        ]

    def __str__(self):
        return self.get_kind_display()


class PointsPolicy(models.Model):
    """Merchant-wide limits (one row)."""

    member_daily_cap = models.PositiveIntegerField(
        _("daily cap per member (all sources)"), null=True, blank=True
    )
    member_monthly_cap = models.PositiveIntegerField(
        _("monthly cap per member (all sources)"), null=True, blank=True
    )
    monthly_budget = models.BigIntegerField(_("monthly issuance budget (merchant)"), null=True, blank=True)
    reminder_days = models.PositiveSmallIntegerField(
        _("remind members this many days before expiry"), default=7
    )

    class Meta:
        verbose_name = _("points policy")
        verbose_name_plural = _("points policy")

    def __str__(self):
        return str(_("points policy"))


class PointsBudgetMonth(models.Model):
    """Points issued by rules in a merchant-local month, against the budget."""

    month = models.DateField(_("month"), unique=True)
    issued = models.BigIntegerField(_("issued"), default=0)

    class Meta:
        verbose_name = _("monthly issuance")
        verbose_name_plural = _("monthly issuance")

    def __str__(self):
        return f"{self.month:%Y-%m}: {self.issued}"


class PointsWithheld(models.Model):
    """Points a cap kept back from an award: recorded, never silently dropped."""

    class Reason(models.TextChoices):
        RULE_DAILY = "rule_daily_cap", _("rule daily cap")
        RULE_MONTHLY = "rule_monthly_cap", _("rule monthly cap")
        MEMBER_DAILY = "member_daily_cap", _("member daily cap")
        MEMBER_MONTHLY = "member_monthly_cap", _("member monthly cap")
        BUDGET = "monthly_budget", _("merchant monthly budget")
        INVITE_DAILY = "invite_daily_cap", _("invite rewards per day")
        PHONE_REWARDED = "phone_rewarded", _("phone number already rewarded")

    account = models.ForeignKey(PointsAccount, verbose_name=_("account"), on_delete=models.PROTECT)
    rule_kind = models.CharField(_("rule"), max_length=20, choices=RuleKind.choices)
    requested = models.BigIntegerField(_("requested"))
    granted = models.BigIntegerField(_("granted"))
    withheld = models.BigIntegerField(_("withheld"))
    reason = models.CharField(_("reason"), max_length=24, choices=Reason.choices)
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("withheld points")
        verbose_name_plural = _("withheld points")
        constraints = [
            models.UniqueConstraint(fields=["account", "idempotency_key"], name="uniq_points_withheld_key")
        ]

    def __str__(self):
        return f"{self.get_rule_kind_display()} −{self.withheld}"


class CheckIn(models.Model):
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="check_ins"
    )
    day = models.DateField(_("day"))
    streak = models.PositiveIntegerField(_("streak"))
    points = models.BigIntegerField(_("points"))
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        constraints = [models.UniqueConstraint(fields=["member", "day"], name="uniq_checkin_member_day")]

    def __str__(self):
        return f"{self.member_id} {self.day}"


class PhoneReward(models.Model):
    """A once-per-phone reward (sign-up, profile completion) and the member who had it.

    Keyed by an HMAC of the phone number (``loyalty.crypto.keyed_hash``), so it
    outlives the member's anonymisation without keeping the number: a phone
    bound again, to a new member, does not earn these rewards a second time.
    """

    phone_hash = models.CharField(_("phone hash"), max_length=64)
    rule_kind = models.CharField(_("rule"), max_length=20, choices=RuleKind.choices)
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("phone reward")
        verbose_name_plural = _("phone rewards")
        constraints = [
            models.UniqueConstraint(fields=["phone_hash", "rule_kind"], name="uniq_phone_reward_per_kind")
        ]

    def __str__(self):
        return f"{self.rule_kind} · {self.member_id}"


# --- the archive (docs/scaling.md, "Archiving the ledgers") ---------------------------------------


class PointsEntryArchive(models.Model):
    """An entry moved out of the live ledger by ``points.ledger.points_archive``: its columns, its id.

    Append-only like the live table.  Its (account, key) index keeps idempotency keys unique across
    both tables: a live posting whose key is here is refused as a duplicate by a trigger, and the
    replay of such a key answers with this row.
    """

    id = models.BigIntegerField(primary_key=True)
    account = models.ForeignKey(
        PointsAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=10, choices=EntryKind.choices)
    amount = models.BigIntegerField(_("points"))
    balance_after = models.BigIntegerField(_("balance after"))
    source = models.CharField(_("source"), max_length=32, blank=True, choices=source_choices)
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    memo = models.CharField(_("memo"), max_length=200, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    request_hash = models.CharField(max_length=64)
    reverses_id = models.BigIntegerField(null=True, blank=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(_("time"))
    archived_at = models.DateTimeField(_("archived at"))

    class Meta:
        verbose_name = _("archived points entry")
        verbose_name_plural = _("archived points entries")
        constraints = [
            models.UniqueConstraint(fields=["account", "idempotency_key"], name="uniq_points_archive_key")
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount:+d}"


class PointsLotArchive(models.Model):
    """A closed lot (nothing left) moved out with the entry that earned it."""

    id = models.BigIntegerField(primary_key=True)
    account = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="+", db_index=False)
    entry_id = models.BigIntegerField()
    amount = models.BigIntegerField()
    remaining = models.BigIntegerField()
    source = models.CharField(max_length=32, blank=True)
    earned_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["account"], name="points_lot_archive_account")]

    def __str__(self):
        return f"{self.remaining}/{self.amount}"


class PointsAllocationArchive(models.Model):
    """An allocation moved out with its entry (and its lot, which is always archived with or before it)."""

    id = models.BigIntegerField(primary_key=True)
    entry_id = models.BigIntegerField(db_index=True)
    lot_id = models.BigIntegerField(db_index=True)
    amount = models.BigIntegerField()
    archived_at = models.DateTimeField()

    def __str__(self):
        return f"{self.entry_id} → lot {self.lot_id}: {self.amount:+d}"
