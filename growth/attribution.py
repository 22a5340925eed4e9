"""Who a share brought in: each activity is a registration channel, and the sharer is the referrer.

A share (the mini-program link of a group or a bargain, and later its poster) carries the activity's
channel code (``groupbuy:<id>``, ``bargain:<id>``) and the sharer's invite code.  A friend who signs
up from it logs in with both (``POST /api/v1/auth/wechat-login {"code", "channel", "invite_code"}``),
so the members app records the registration channel and the referrer when it creates the member —
once, never changed later — and the existing invite rewards and their limits apply.  Nothing here
writes a member: attribution is the members app's, read back by activity and by sharer.
"""

from __future__ import annotations

from django.db.models import Count

from members.models import Channel, Member
from members.services import channel_ensure

GROUP_PAGE = "pages/growth/group"
BARGAIN_PAGE = "pages/growth/bargain"


GROUP_BUY_CHANNEL_PREFIX = "groupbuy:"
BARGAIN_CHANNEL_PREFIX = "bargain:"


def group_buy_channel(activity_id: int) -> str:
    return f"{GROUP_BUY_CHANNEL_PREFIX}{activity_id}"


def bargain_channel(activity_id: int) -> str:
    return f"{BARGAIN_CHANNEL_PREFIX}{activity_id}"


def name_channel(*, code: str, name: str) -> None:
    """Name an activity's channel for the operators' lists (a name they gave it is kept)."""
    channel_ensure(code=code, name=name, kind=Channel.Kind.INVITE)


def share(*, page: str, target_id: int, channel: str, invite_code: str) -> dict:
    """What a share carries: the mini-program path to open, with the channel and the sharer's invite code."""
    return {
        "path": f"{page}?id={target_id}&channel={channel}&invite_code={invite_code}",
        "channel": channel,
        "invite_code": invite_code,
    }


def new_members_by_sharer(*, channel: str) -> list[dict]:
    """Members who registered from an activity's shares, counted by sharer (most first; None: no sharer)."""
    return list(
        Member.objects.filter(registration_channel=channel)
        .values("referrer_id", "referrer__nickname")
        .annotate(members=Count("pk"))
        .order_by("-members", "referrer_id")
    )
