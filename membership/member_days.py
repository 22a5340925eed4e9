"""Member days (会员日): recurring campaign days in merchant-local time, and their once-per-occurrence push.

A member day occurs on a local calendar day (every Wednesday; the 8th of
each month — a day 29–31 is skipped in months without it), from 00:00:00 to
the next 00:00:00 in ``settings.TIME_ZONE`` (Asia/Shanghai by default).
While it is on, its points multiplier and extra discount apply to the
members in its audience (``membership.benefits``).

The push (a gift pack, and a notification) goes to the audience once per
occurrence, however often the job fires: a ``MemberDayRun`` row per
(member day, day) carries a member-id cursor, each chunk moves the cursor
in the transaction that pushes it (the run row locked, SKIP LOCKED so a
second worker steps aside), and the gift pack's occasion and the
notification's dedupe key are per member and occurrence as a last guard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from coupons.services import gift_pack_issue
from loyalty import locks
from loyalty.config import cached
from loyalty.locks import Rank
from members.models import Member
from members.receiving import members_receiving
from membership.models import CardStatus, MemberDay, MemberDayRun
from notifications.services import Draft, notify_many


def occurs_on(member_day: MemberDay, day: date) -> bool:
    if member_day.starts_on and day < member_day.starts_on:
        return False
    if member_day.ends_on and day > member_day.ends_on:
        return False
    if member_day.recurrence == MemberDay.Recurrence.WEEKLY:
        return day.weekday() == member_day.weekday
    return day.day == member_day.day_of_month


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """[00:00:00, next 00:00:00) of a merchant-local day, as aware datetimes."""
    tz = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)


def active_member_days(*, at: datetime) -> list[MemberDay]:
    day = timezone.localtime(at).date()
    active = cached(
        "active_member_days",
        depends_on=(MemberDay,),
        load=lambda: list(MemberDay.objects.filter(is_active=True).order_by("pk")),
    )
    return [md for md in active if occurs_on(md, day)]


@dataclass(frozen=True)
class Occurrence:
    member_day: MemberDay
    starts_at: datetime
    ends_at: datetime


def member_days_schedule(
    *, now: datetime, horizon_days: int = 62
) -> tuple[list[Occurrence], list[Occurrence]]:
    """(active now, the next occurrence of each other one within the horizon), for the banner and countdown."""
    today = timezone.localtime(now).date()
    active, upcoming = [], []
    for md in MemberDay.objects.filter(is_active=True).order_by("pk"):
        if occurs_on(md, today):
            active.append(Occurrence(md, *local_day_bounds(today)))
        for offset in range(1, horizon_days + 1):
            day = today + timedelta(days=offset)
            if occurs_on(md, day):
                upcoming.append(Occurrence(md, *local_day_bounds(day)))
                break
    upcoming.sort(key=lambda o: (o.starts_at, o.member_day.pk))
    return active, upcoming


#: A segment's members now, as a Member queryset: segments belong to analytics, above the programme,
#: which registers the source at startup (``analytics.audiences``).  None registered: nobody.
_SEGMENT_MEMBERS: dict[str, Callable[..., object]] = {}


def segment_members_source_register(*, source: Callable[..., object]) -> None:
    """Register ``source(segment_id=..., now=...)``: a segment's members, for member days aimed at a segment."""
    _SEGMENT_MEMBERS["source"] = source


#: The members carrying any of some tags, as a Member queryset: tags belong to analytics too, which
#: registers the source at startup (``analytics.audiences``).  None registered: nobody.
_TAG_MEMBERS: dict[str, Callable[..., object]] = {}


def tag_members_source_register(*, source: Callable[..., object]) -> None:
    """Register ``source(tag_ids=[...])``: the members carrying any of the tags, for member days aimed at tags."""
    _TAG_MEMBERS["source"] = source


def member_in_audience(member_day: MemberDay, *, member_id: int, at: datetime) -> bool:
    if member_day.audience == MemberDay.Audience.EVERYONE:
        return True  # no query: the callers have the member already
    return audience_members(member_day, at=at).filter(pk=member_id).exists()


def audience_members(member_day: MemberDay, *, at: datetime):
    """The member day's audience as a Member queryset (everyone, tier levels, holders of valid cards, a segment,
    carriers of any of some tags), of members who may receive (never a closed account: ``members.receiving``).
    A targeted audience whose segment or tags are gone is nobody, never everybody."""
    members = members_receiving()
    values = [int(v) for v in member_day.audience_values or [] if str(v).isdigit()]
    if member_day.audience == MemberDay.Audience.TIERS:
        in_tiers = Q(membership__tier_level__in=values)
        if 0 in values:
            in_tiers |= Q(membership__isnull=True)
        return members.filter(in_tiers)
    if member_day.audience == MemberDay.Audience.SEGMENT:
        segment_members = _SEGMENT_MEMBERS.get("source")
        if not values or segment_members is None:
            return members.none()
        return members.filter(pk__in=segment_members(segment_id=values[0], now=at).values("pk"))
    if member_day.audience == MemberDay.Audience.TAGS:
        tag_members = _TAG_MEMBERS.get("source")
        if not values or tag_members is None:
            return members.none()
        return members.filter(pk__in=tag_members(tag_ids=values).values("pk"))
    if member_day.audience == MemberDay.Audience.CARD_HOLDERS:
        return members.filter(
            pk__in=Member.objects.filter(
                Q(cards__valid_until__isnull=True) | Q(cards__valid_until__gt=at),
                cards__card_type_id__in=values,
                cards__status=CardStatus.ACTIVE,
                cards__valid_from__lte=at,
            ).values("pk")
        )
    if member_day.audience == MemberDay.Audience.EVERYONE:
        return members
    return members.none()  # a kind this function does not know reaches nobody


def member_days_run(*, now: datetime | None = None, chunk_size: int = 500) -> int:
    """Push today's member days to their audiences; returns how many members were newly pushed.

    Runs every few minutes; the first run of the day does the work, later
    ones find the run finished (or resume it where a killed run stopped).
    """
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    pushed = 0
    for member_day in active_member_days(at=now):
        run, _created = MemberDayRun.objects.get_or_create(member_day=member_day, occurrence=today)
        if run.finished_at is None:
            pushed += _push(run_id=run.pk, member_day=member_day, day=today, now=now, chunk_size=chunk_size)
    return pushed


def _push(*, run_id: int, member_day: MemberDay, day: date, now: datetime, chunk_size: int) -> int:
    audience = audience_members(member_day, at=now).order_by("pk").values_list("pk", flat=True)
    title = _("%(name)s is on today") % {"name": member_day.name}
    body = _("Member day benefits apply all day today.")
    occasion = f"member-day:{member_day.pk}:{day.isoformat()}"
    pushed = 0
    while True:
        with transaction.atomic():
            locks.note(Rank.DOCUMENT, "member day run")
            run = MemberDayRun.objects.select_for_update(skip_locked=True).filter(pk=run_id).first()
            if run is None or run.finished_at is not None:
                return pushed  # another worker is pushing it, or it is done
            ids = list(audience.filter(pk__gt=run.last_member_id)[:chunk_size])
            if not ids:
                run.finished_at = timezone.now()
                run.save(update_fields=["finished_at"])
                return pushed
            if member_day.push_pack_id:
                for member_id in ids:
                    gift_pack_issue(pack_id=member_day.push_pack_id, member_id=member_id, occasion=occasion)
            new = notify_many(
                Draft(
                    member_id=member_id,
                    kind="member_day",
                    title=title,
                    body=body,
                    dedupe_key=occasion,
                    data={"member_day_id": member_day.pk, "day": day.isoformat()},
                )
                for member_id in ids
            )
            run.last_member_id = ids[-1]
            run.pushed += new
            run.save(update_fields=["last_member_id", "pushed"])
            pushed += new
