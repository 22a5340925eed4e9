"""Reads for the points API and admin."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from django.db.models import Min, Q, Sum
from django.utils import timezone

from points import sql
from points.models import CheckIn, PointsAccount, PointsEntry, PointsLot


def points_balance(*, member_id: int) -> dict:
    """The usable balance and the next batch of points to expire.

    Lots past their expiry but not yet processed by the job are not usable
    and are left out here, exactly as a spend would leave them out.
    """
    now = timezone.now()
    account = PointsAccount.objects.filter(member_id=member_id).first()
    if account is None:
        return {"balance": 0, "expiring_points": 0, "expiring_at": None}
    open_lots = PointsLot.objects.filter(account=account, remaining__gt=0)
    due = open_lots.filter(expires_at__lte=now).aggregate(s=Sum("remaining", default=0))["s"]
    soonest = open_lots.filter(expires_at__gt=now).aggregate(at=Min("expires_at"))["at"]
    expiring = (
        open_lots.filter(expires_at=soonest).aggregate(s=Sum("remaining", default=0))["s"] if soonest else 0
    )
    return {"balance": account.balance - due, "expiring_points": expiring, "expiring_at": soonest}


def points_entries(*, member_id: int, kind: str | None = None):
    entries = PointsEntry.objects.filter(account__member_id=member_id)
    return entries.filter(kind=kind) if kind else entries


def check_in_calendar(*, member_id: int, year: int, month: int) -> dict:
    first = date(year, month, 1)
    last = date(year, month, calendar.monthrange(year, month)[1])
    days = CheckIn.objects.filter(member_id=member_id, day__range=(first, last)).order_by("day")
    today = timezone.localdate()
    # The streak still counts while today's check-in is pending.
    recent = CheckIn.objects.filter(member_id=member_id, day__in=[today, today - timedelta(days=1)])
    streaks = {c.day: c.streak for c in recent}
    return {
        "month": f"{year:04d}-{month:02d}",
        "days": [{"day": c.day, "streak": c.streak, "points": c.points} for c in days],
        "checked_in_today": today in streaks,
        "current_streak": streaks.get(today) or streaks.get(today - timedelta(days=1)) or 0,
    }


#: What counts as earned: every earn, less what was clawed back of earns (a refunded order's
#: points, a reward taken back: a reversal of an earn).  Spends, expiries and the points a
#: cancelled spend gives back are not earnings; neither is an operator's adjustment.
_EARNED = Q(kind="earn") | Q(kind="reverse", reverses__kind="earn")


def points_earned_total(*, member_id: int) -> int:
    """Every point the member has earned and kept earned (``_EARNED``): what a points-earned card counts."""
    return PointsEntry.objects.filter(_EARNED, account__member_id=member_id).aggregate(
        s=Sum("amount", default=0)
    )["s"]


def points_standing(*, member_id: int, keys: list[str]) -> int:
    """What of the member's earns under ``keys`` has not been clawed back."""
    if not keys:
        return 0
    earns = PointsEntry.objects.filter(account__member_id=member_id, kind="earn", idempotency_key__in=keys)
    return PointsEntry.objects.filter(
        Q(pk__in=earns.values("pk")) | Q(reverses__in=earns.values("pk"))
    ).aggregate(s=Sum("amount", default=0))["s"]


def members_with_points_earned(*, at_least: int):
    """Member ids whose ``points_earned_total`` reaches ``at_least``: a values queryset to filter with."""
    return (
        PointsEntry.objects.filter(_EARNED)
        .values("account__member_id")
        .annotate(total=Sum("amount"))
        .filter(total__gte=at_least)
        .values("account__member_id")
    )


def points_usable_balance(*, member_id: int, now=None) -> int:
    """``points_balance(...)["balance"]`` in one query, for checkout's hot path.

    The balance less the points of lots past their expiry that the job has
    not expired yet (a spend would expire them first).
    """
    balance = sql.usable_balance(member_id, now or timezone.now())
    return balance if balance is not None else 0


def member_summary_part(*, member_id: int) -> dict:
    """The "me" page's points (``members.selectors.member_summary``)."""
    return {"points": points_balance(member_id=member_id)["balance"]}


def member_overview_part(*, member_id: int) -> dict:
    """The operators' member overview: the points balance (``members.selectors.member_overview``)."""
    return {"points": points_balance(member_id=member_id)}
