"""Reads of 拼团 group buying for the API and the admin."""

from __future__ import annotations

from django.db.models import F, Prefetch
from django.utils import timezone

from growth.models import (
    HOLDING_STATUSES,
    Bargain,
    BargainActivity,
    BargainHelp,
    Group,
    GroupBuyActivity,
    GroupMember,
    GroupState,
)


def activities_on_sale(*, now=None):
    """Activities a member may open a group of now, with units left first shown as they are."""
    now = now or timezone.now()
    return (
        GroupBuyActivity.objects.filter(is_active=True, starts_at__lte=now, ends_at__gt=now)
        .select_related("item")
        .order_by("ends_at", "pk")
    )


def activity_for_member(*, activity_id: int, now=None) -> GroupBuyActivity | None:
    return activities_on_sale(now=now).filter(pk=activity_id).first()


def _members_shown():
    return Prefetch(
        "places",
        queryset=GroupMember.objects.filter(status__in=HOLDING_STATUSES)
        .select_related("member")
        .order_by("paid_at", "pk"),
        to_attr="shown_places",
    )


def open_groups(*, activity_id: int, limit: int = 10, now=None):
    """Groups of an activity a member could join now, the closest to filling first (凑团)."""
    now = now or timezone.now()
    return (
        Group.objects.filter(
            activity_id=activity_id, state=GroupState.OPEN, deadline__gt=now, joined_count__lt=F("size")
        )
        .select_related("activity")
        .prefetch_related(_members_shown())
        .order_by(F("size") - F("joined_count"), "deadline")[:limit]
    )


def group_public(*, group_id: int) -> Group | None:
    """A group as anyone with its link sees it: its members' avatars and nicknames, places, deadline."""
    return (
        Group.objects.filter(pk=group_id)
        .select_related("activity__item")
        .prefetch_related(_members_shown())
        .first()
    )


def member_places(*, member_id: int):
    """A member's places, newest first, with their groups and activities."""
    return (
        GroupMember.objects.filter(member_id=member_id)
        .select_related("group", "activity__item", "member")
        .order_by("-created_at", "-pk")
    )


# --- 砍价 -------------------------------------------------------------------------------------------


def bargain_activities_on_sale(*, now=None):
    now = now or timezone.now()
    return (
        BargainActivity.objects.filter(is_active=True, starts_at__lte=now, ends_at__gt=now)
        .select_related("item")
        .order_by("ends_at", "pk")
    )


def bargain_public(*, bargain_id: int) -> Bargain | None:
    """A bargain as its shared link shows it: the price reached, the floor, each helper's avatar and cut."""
    return (
        Bargain.objects.filter(pk=bargain_id)
        .select_related("activity__item", "member")
        .prefetch_related(
            Prefetch("helps", queryset=BargainHelp.objects.select_related("helper").order_by("seq"))
        )
        .first()
    )


def member_bargains(*, member_id: int):
    return (
        Bargain.objects.filter(member_id=member_id)
        .select_related("activity__item", "member")
        .prefetch_related(
            Prefetch("helps", queryset=BargainHelp.objects.select_related("helper").order_by("seq"))
        )
        .order_by("-created_at", "-pk")
    )
