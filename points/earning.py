"""Earning rules: how many points a behaviour earns, capped, and when they expire.

Caps, in the order they apply (the first that binds is the recorded reason):
the rule's daily and monthly cap per member, the member's daily and monthly
cap across all rules, then the merchant's monthly issuance budget.  Abuse
limits come before them: an inviter is rewarded for at most
``INVITE_REWARDS_PER_DAY`` invites a local day, and the sign-up and
profile-completion rewards are paid once per phone number (``PhoneReward``),
however many members that phone is bound to over time.  Days and
months are the merchant's local ones (TIME_ZONE).  Caps count points earned
(gross); a later clawback does not free room.  What a cap keeps back is
stored as ``PointsWithheld``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from fractions import Fraction

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from loyalty import crypto, locks, rounding
from loyalty.config import cached
from loyalty.errors import IdempotencyConflict
from loyalty.locks import Rank
from points import ledger, sql
from points.exceptions import CheckInDisabled
from points.models import (
    CheckIn,
    EarningRule,
    EntryKind,
    ExpiryPolicy,
    PhoneReward,
    PointsAccount,
    PointsBudgetMonth,
    PointsEntry,
    PointsPolicy,
    PointsWithheld,
    RuleKind,
)

#: Told, in the caller's transaction, each time points are earned.  The points app sits below the
#: membership programme and imports none of it: membership registers here at startup
#: (``MembershipConfig.ready``: cards granted for points).  Each takes ``member_id`` and costs nothing
#: when there is nothing to do.  Every earn goes through ``points_award`` or ``points_grant_gift``; an
#: operator's adjustment is not an earning and tells no one.
_ON_EARNED: dict[str, Callable[..., object]] = {}

#: The member's points multiplier now, for a purchase whose order captured none; registered by the
#: membership programme (its benefits) at startup.  None registered: 1.
_MULTIPLIER_NOW: dict[str, Callable[..., Fraction]] = {}


def points_earned_listener_register(*, name: str, listener: Callable[..., object]) -> None:
    """Register ``listener(member_id=...)``, told in the earning transaction each time points are earned."""
    _ON_EARNED[name] = listener


def points_multiplier_source_register(*, source: Callable[..., Fraction]) -> None:
    """Register ``source(member_id=..., at=...)``: the multiplier a purchase earns at when none was captured."""
    _MULTIPLIER_NOW["source"] = source


def _earned(member_id: int) -> None:
    for _name, listener in sorted(_ON_EARNED.items()):
        listener(member_id=member_id)


def _multiplier_now(*, member_id: int, at: datetime) -> Fraction:
    source = _MULTIPLIER_NOW.get("source")
    return source(member_id=member_id, at=at) if source else Fraction(1)


@dataclass(frozen=True)
class Award:
    granted: int
    withheld: int
    entry_id: int | None
    replayed: bool = False


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def expiry_for(rule: EarningRule, earned_at: datetime) -> datetime | None:
    """When points earned at ``earned_at`` under ``rule`` expire (the first instant they are gone).

    - rolling N days: valid through the whole Nth local day after earning,
      gone at the local midnight that ends it;
    - end of next year: gone at local midnight on 1 January two years on
      (points earned any day of 2026 last through 31 December 2027);
    - never: None.
    """
    earned_day = timezone.localtime(earned_at).date()
    if rule.expiry_policy == ExpiryPolicy.ROLLING_DAYS:
        return _local_midnight(earned_day + timedelta(days=rule.expiry_days + 1))
    if rule.expiry_policy == ExpiryPolicy.END_OF_NEXT_YEAR:
        return _local_midnight(date(earned_day.year + 2, 1, 1))
    return None


def points_award(
    *,
    member_id: int,
    rule_kind: str,
    idempotency_key: str,
    paid_fen: int = 0,
    multiplier: Fraction | None = None,
    extra_points: int = 0,
    reference: str = "",
    savepoint: bool = True,
) -> Award:
    """Grant the points a rule gives, capped; idempotent per member and key.

    ``savepoint=False``: see ``ledger.points_earn`` (used when no cap applies).

    ``paid_fen`` (purchase only) is what the member actually paid, including
    the stored-value part, excluding shipping and the points-deduction part;
    ``multiplier`` (purchase only) the one in force when the order was
    committed, which its quote showed (None: the member's benefits now).
    """
    rule = earning_rule(rule_kind)
    if rule is None:
        return Award(granted=0, withheld=0, entry_id=None)
    now = timezone.now()
    if rule.kind == RuleKind.PURCHASE:
        requested = rounding.purchase_points(
            eligible_fen=paid_fen,
            points_per_yuan=rule.points_per_yuan,
            multiplier=multiplier if multiplier is not None else _multiplier_now(member_id=member_id, at=now),
        )
    else:
        requested = rule.points + extra_points
    if requested <= 0:
        return Award(granted=0, withheld=0, entry_id=None)

    capped: list[int] = []  # what this call withheld, when it ran the caps itself (saves reading it back)

    def cap(account_id: int, amount: int) -> int:
        granted = _apply_caps(
            account_id=account_id, rule=rule, amount=amount, key=idempotency_key, reference=reference, now=now
        )
        if granted > 0:  # 0 may be a replay of an award withheld entirely: read that back below
            capped.append(amount - granted)
        return granted

    # Purchase points with no cap configured anywhere skip the cap bookkeeping: one statement instead of
    # six.  Nothing can have been withheld before under this key: a purchase award is asked for once, by
    # its order's completion, under the order's lock.
    uncapped = rule.kind == RuleKind.PURCHASE and _no_caps(rule)
    try:
        posting = ledger.points_earn(
            member_id=member_id,
            amount=requested,
            idempotency_key=idempotency_key,
            source=rule.kind,
            expires_at=expiry_for(rule, now),
            reference=reference,
            cap=None if uncapped else cap,
            savepoint=savepoint or not uncapped,
        )
    except IdempotencyConflict:
        # The key names the occasion (first order, an invite, an order's purchase points): it was
        # already rewarded, by another order or before the rule changed. The first award stands.
        entry = sql.member_entry_by_key(member_id, idempotency_key)  # live or archived
        posting = ledger.Posting(
            entry_id=entry.id, amount=entry.amount, balance_after=entry.balance_after, replayed=True
        )
    withheld = (
        capped[0]
        if capped and not posting.replayed
        else 0
        if uncapped and not posting.replayed
        else PointsWithheld.objects.filter(account__member_id=member_id, idempotency_key=idempotency_key)
        .values_list("withheld", flat=True)
        .first()
        or 0
    )
    if posting.entry_id and not posting.replayed:
        _earned(member_id)
    return Award(
        granted=posting.amount if posting.entry_id else 0,
        withheld=withheld,
        entry_id=posting.entry_id,
        replayed=posting.replayed,
    )


def _no_caps(rule: EarningRule) -> bool:
    policy = points_policy()
    return (
        rule.daily_cap is None
        and rule.monthly_cap is None
        and policy.member_daily_cap is None
        and policy.member_monthly_cap is None
        and policy.monthly_budget is None
    )


def _apply_caps(
    *, account_id: int, rule: EarningRule, amount: int, key: str, reference: str, now: datetime
) -> int:
    """Runs under the account lock (see ``ledger.points_earn``)."""
    if PointsWithheld.objects.filter(account_id=account_id, idempotency_key=key).exists():
        return 0  # replay of an award that was withheld entirely
    policy = points_policy()
    today = timezone.localdate(now)
    day_start, month_start = _local_midnight(today), _local_midnight(today.replace(day=1))
    abuse = _abuse_limit(account_id=account_id, rule=rule, day_start=day_start)
    if abuse is not None:
        _record_withheld(
            account_id=account_id,
            rule=rule,
            amount=amount,
            granted=0,
            reason=abuse,
            key=key,
            reference=reference,
        )
        return 0
    limits = [
        (PointsWithheld.Reason.RULE_DAILY, rule.daily_cap, Q(source=rule.kind, created_at__gte=day_start)),
        (PointsWithheld.Reason.RULE_MONTHLY, rule.monthly_cap, Q(source=rule.kind)),
        (PointsWithheld.Reason.MEMBER_DAILY, policy.member_daily_cap, Q(created_at__gte=day_start)),
        (PointsWithheld.Reason.MEMBER_MONTHLY, policy.member_monthly_cap, Q()),
    ]
    limits = [limit for limit in limits if limit[1] is not None]
    granted, reason = amount, None
    if limits:
        earned = PointsEntry.objects.filter(
            account_id=account_id, kind=EntryKind.EARN, created_at__gte=month_start
        ).aggregate(**{str(i): Sum("amount", filter=q, default=0) for i, (_, _, q) in enumerate(limits)})
        for i, (why, limit, _) in enumerate(limits):
            room = max(limit - earned[str(i)], 0)
            if granted > room:
                granted, reason = room, reason or why
    if policy.monthly_budget is not None and granted > 0:
        locks.note(Rank.POINTS_BUDGET, "points budget")
        budget, _ = PointsBudgetMonth.objects.select_for_update().get_or_create(month=month_start.date())
        room = max(policy.monthly_budget - budget.issued, 0)
        if granted > room:
            granted, reason = room, reason or PointsWithheld.Reason.BUDGET
        PointsBudgetMonth.objects.filter(pk=budget.pk).update(issued=budget.issued + granted)
    if granted < amount:
        _record_withheld(
            account_id=account_id,
            rule=rule,
            amount=amount,
            granted=granted,
            reason=reason,
            key=key,
            reference=reference,
        )
    return granted


def _record_withheld(*, account_id, rule, amount, granted, reason, key, reference) -> None:
    PointsWithheld.objects.create(
        account_id=account_id,
        rule_kind=rule.kind,
        requested=amount,
        granted=granted,
        withheld=amount - granted,
        reason=reason,
        idempotency_key=key,
        reference=reference,
    )


def phone_hash(phone: str) -> str:
    return crypto.keyed_hash(phone.strip(), purpose="phone-reward")


def _claim_phone(*, phone: str, rule_kind: str, member_id: int) -> int:
    """Record that ``phone`` had ``rule_kind``'s reward through this member; returns who had it first."""
    digest = phone_hash(phone)
    PhoneReward.objects.bulk_create(
        [PhoneReward(phone_hash=digest, rule_kind=rule_kind, member_id=member_id)], ignore_conflicts=True
    )
    return PhoneReward.objects.get(phone_hash=digest, rule_kind=rule_kind).member_id


def _abuse_limit(*, account_id: int, rule: EarningRule, day_start: datetime) -> str | None:
    """Runs under the account lock: the reason an award is refused outright, or None."""
    if rule.kind == RuleKind.INVITER:
        rewarded_today = PointsEntry.objects.filter(
            account_id=account_id, kind=EntryKind.EARN, source=RuleKind.INVITER, created_at__gte=day_start
        ).count()
        if rewarded_today >= settings.INVITE_REWARDS_PER_DAY:
            return PointsWithheld.Reason.INVITE_DAILY
    if rule.kind in (RuleKind.SIGNUP, RuleKind.PROFILE):
        member_id, phone = (
            PointsAccount.objects.filter(pk=account_id).values_list("member_id", "member__phone").get()
        )
        if phone and _claim_phone(phone=phone, rule_kind=rule.kind, member_id=member_id) != member_id:
            return PointsWithheld.Reason.PHONE_REWARDED
    return None


def points_policy() -> PointsPolicy:
    """The policy row (cached: loyalty.config; do not mutate it)."""
    return cached(
        "points_policy", depends_on=(PointsPolicy,), load=lambda: PointsPolicy.objects.get_or_create(pk=1)[0]
    )


def earning_rule(kind: str, *, active_only: bool = True) -> EarningRule | None:
    """The rule of ``kind`` (kinds are unique; cached: loyalty.config, do not mutate it)."""
    rules = cached(
        "earning_rules", depends_on=(EarningRule,), load=lambda: list(EarningRule.objects.order_by("pk"))
    )
    return next((r for r in rules if r.kind == kind and (r.is_active or not active_only)), None)


# --- one function per earning occasion -------------------------------------------


def points_award_signup(*, member_id: int) -> Award:
    return points_award(member_id=member_id, rule_kind=RuleKind.SIGNUP, idempotency_key="signup")


def points_award_profile_completed(*, member_id: int) -> Award:
    """Once per member and once per phone number (the profile is complete only with a phone)."""
    return points_award(member_id=member_id, rule_kind=RuleKind.PROFILE, idempotency_key="profile")


SIGNUP_PHONE_REUSED_KEY = "signup:phone-reused"


@transaction.atomic
def points_phone_bound(*, member_id: int, phone: str) -> None:
    """A member bound ``phone``: the sign-up reward is once per phone number.

    The sign-up points are paid at the first login, before WeChat tells us a
    phone.  When the phone is bound we record it against that reward; if the
    phone had already earned it as another member (closed, anonymised, and
    back under a new WeChat account), this member's sign-up points are taken
    back (a ``reverse`` entry; what was already spent becomes a debt) and the
    refusal is recorded as withheld points.  Idempotent: the reversal and the
    withheld row have fixed keys.
    """
    signup = PointsEntry.objects.filter(
        account__member_id=member_id, kind=EntryKind.EARN, idempotency_key="signup"
    ).first()
    if signup is None:
        return
    if PhoneReward.objects.filter(member_id=member_id, rule_kind=RuleKind.SIGNUP).exists():
        return  # already settled with the phone it had then; a new number changes nothing
    if _claim_phone(phone=phone, rule_kind=RuleKind.SIGNUP, member_id=member_id) == member_id:
        return
    ledger.points_reverse(
        member_id=member_id,
        entry_id=signup.pk,
        idempotency_key=SIGNUP_PHONE_REUSED_KEY,
        memo="sign-up reward already paid to this phone number",
    )
    PointsWithheld.objects.get_or_create(
        account_id=signup.account_id,
        idempotency_key=SIGNUP_PHONE_REUSED_KEY,
        defaults={
            "rule_kind": RuleKind.SIGNUP,
            "requested": signup.amount,
            "granted": 0,
            "withheld": signup.amount,
            "reason": PointsWithheld.Reason.PHONE_REWARDED,
        },
    )


def points_award_purchase(
    *,
    member_id: int,
    order_no: str,
    paid_fen: int,
    multiplier: Fraction | None = None,
    savepoint: bool = True,
) -> Award:
    """Purchase points at ``multiplier``, the benefits' multiplier captured when the order was committed."""
    return points_award(
        member_id=member_id,
        rule_kind=RuleKind.PURCHASE,
        idempotency_key=f"purchase:{order_no}",
        paid_fen=paid_fen,
        multiplier=multiplier,
        reference=order_no,
        savepoint=savepoint,
    )


def purchase_points_estimate(*, paid_fen: int, multiplier: Fraction) -> int:
    """What a purchase paying ``paid_fen`` earns at ``multiplier`` under today's rule, before any cap."""
    rule = earning_rule(RuleKind.PURCHASE)
    if rule is None:
        return 0
    return rounding.purchase_points(
        eligible_fen=paid_fen, points_per_yuan=rule.points_per_yuan, multiplier=multiplier
    )


def _award_once(*, member_id: int, rule_kind: str, key: str, reference: str) -> Award:
    """A reward a member has once while it stands (first order, invite), keyed ``key``.

    An award clawed back whole (its first order fully refunded) no longer
    stands: the member's next first order earns it again, under ``key#2``,
    ``key#3`` … .  Only a replay of the key costs the extra query.
    """
    award = points_award(member_id=member_id, rule_kind=rule_kind, idempotency_key=key, reference=reference)
    if not award.replayed:
        return award
    earlier = (
        PointsEntry.objects.filter(account__member_id=member_id, kind=EntryKind.EARN)
        .filter(Q(idempotency_key=key) | Q(idempotency_key__startswith=f"{key}#"))
        .annotate(taken=Coalesce(Sum("reversals__amount"), 0))
        .values_list("amount", "taken")
    )
    earlier = list(earlier)
    if any(amount + taken > 0 for amount, taken in earlier):  # one stands: it stays the one
        return award
    return points_award(
        member_id=member_id,
        rule_kind=rule_kind,
        idempotency_key=f"{key}#{len(earlier) + 1}",
        reference=reference,
    )


def points_award_first_order(*, member_id: int, order_no: str) -> Award:
    return _award_once(
        member_id=member_id, rule_kind=RuleKind.FIRST_ORDER, key="first_order", reference=order_no
    )


def points_award_invite(
    *, inviter_id: int | None, invitee_id: int, order_no: str = ""
) -> tuple[Award, Award]:
    """Both sides, once the invited friend's first paid order (``order_no``, the entries' reference) completes.

    ``inviter_id`` None: the inviter may not receive (a closed account); the friend is rewarded all the same.
    """
    return (
        _award_once(
            member_id=inviter_id, rule_kind=RuleKind.INVITER, key=f"inviter:{invitee_id}", reference=order_no
        )
        if inviter_id is not None
        else Award(granted=0, withheld=0, entry_id=None),
        _award_once(member_id=invitee_id, rule_kind=RuleKind.INVITEE, key="invitee", reference=order_no),
    )


ORDER_REWARDS = (RuleKind.FIRST_ORDER, RuleKind.INVITEE, RuleKind.INVITER)


def order_rewards(*, order_no: str, member_ids: list[int]) -> list[tuple[int, int]]:
    """(member id, earn entry id) of the first-order and invite rewards an order paid out.

    A refund of the whole order takes them back: rewards for a first paid
    order must not survive that order being refunded.
    """
    return list(
        PointsEntry.objects.filter(
            account__member_id__in=member_ids,
            kind=EntryKind.EARN,
            source__in=ORDER_REWARDS,
            reference=order_no,
        )
        .order_by("account__member_id", "id")
        .values_list("account__member_id", "id")
    )


def order_rewards_standing(*, order_no: str, member_id: int) -> int:
    """What of the first-order and invite rewards ``order_no`` paid ``member_id`` is not clawed back yet."""
    rewards = PointsEntry.objects.filter(
        account__member_id=member_id, kind=EntryKind.EARN, source__in=ORDER_REWARDS, reference=order_no
    ).values("pk")
    return PointsEntry.objects.filter(Q(pk__in=rewards) | Q(reverses__in=rewards)).aggregate(
        s=Sum("amount", default=0)
    )["s"]


# --- daily check-in ----------------------------------------------------------------


@dataclass(frozen=True)
class CheckInResult:
    day: date
    streak: int
    points: int
    created: bool


def _streak_bonus(rule: EarningRule, streak: int) -> int:
    day_in_cycle = (streak - 1) % rule.streak_cycle_days + 1 if rule.streak_cycle_days else streak
    return int(rule.streak_bonuses.get(str(day_in_cycle), 0))


def points_check_in(*, member_id: int) -> CheckInResult:
    """Check in for today (merchant-local); a second call the same day returns the first.

    However many taps arrive at once, the unique (member, day) row lets one
    through: the others wait on it, then find it and return it.
    """
    rule = earning_rule(RuleKind.CHECKIN)
    if rule is None:
        raise CheckInDisabled()
    today = timezone.localdate()
    existing = CheckIn.objects.filter(member_id=member_id, day=today).first()
    if existing:
        return CheckInResult(existing.day, existing.streak, existing.points, created=False)
    yesterday = CheckIn.objects.filter(member_id=member_id, day=today - timedelta(days=1)).first()
    streak = yesterday.streak + 1 if yesterday else 1
    with transaction.atomic():
        try:
            with transaction.atomic():
                check_in = CheckIn.objects.create(member_id=member_id, day=today, streak=streak, points=0)
        except IntegrityError:  # a parallel tap won; it has committed by now
            existing = CheckIn.objects.get(member_id=member_id, day=today)
            return CheckInResult(existing.day, existing.streak, existing.points, created=False)
        award = points_award(
            member_id=member_id,
            rule_kind=RuleKind.CHECKIN,
            idempotency_key=f"checkin:{today.isoformat()}",
            extra_points=_streak_bonus(rule, streak),
        )
        CheckIn.objects.filter(pk=check_in.pk).update(points=award.granted)
    return CheckInResult(today, streak, award.granted, created=True)


def points_grant_gift(
    *, member_id: int, points: int, idempotency_key: str, source: str, reference: str = ""
) -> int:
    """Points promised by something the member paid for (a recharge plan's gift); returns the entry id.

    Not capped and not counted against the budgets: the member bought the
    promise.  They expire like purchase points (the purchase rule's policy).
    """
    rule = earning_rule(RuleKind.PURCHASE, active_only=False)
    now = timezone.now()
    posting = ledger.points_earn(
        member_id=member_id,
        amount=points,
        idempotency_key=idempotency_key,
        source=source,
        expires_at=expiry_for(rule, now) if rule else None,
        reference=reference,
    )
    if not posting.replayed:
        _earned(member_id)
    return posting.entry_id
