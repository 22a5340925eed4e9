"""Reads for members."""

from __future__ import annotations

from django.utils import timezone

from loyalty.errors import NotFound
from members.models import Member, MemberToken
from members.services import token_hash


def member_by_token(token: str) -> tuple[Member, MemberToken] | None:
    record = (
        MemberToken.objects.select_related("member")
        .filter(
            key_hash=token_hash(token),
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
            member__closed_at__isnull=True,  # closure revokes tokens too; this holds if one slipped by
        )
        .first()
    )
    return (record.member, record) if record else None


def member_summary(*, member: Member) -> dict:
    """What the mini-program's "me" page shows.

    Later features (points, stored value, tier, coupons) add their own keys
    here, each from its own app's selectors.
    """
    from coupons.selectors import available_count
    from points.selectors import points_balance
    from stored_value.selectors import stored_value_balance

    return {
        "id": member.pk,
        "nickname": member.nickname,
        "avatar_url": member.avatar_url,
        "phone_bound": bool(member.phone),
        "invite_code": member.invite_code,
        "registered_at": member.registered_at,
        "points": points_balance(member_id=member.pk)["balance"],
        "stored_value_fen": stored_value_balance(member_id=member.pk)["balance_fen"],
        "coupons_available": available_count(member_id=member.pk),
    }


def member_lookup(*, openid: str | None = None, phone: str | None = None) -> Member:
    filters = {"openid": openid} if openid else {"phone": phone}
    member = Member.objects.filter(**filters).first()
    if member is None:
        raise NotFound()
    return member
