"""Reads for members."""

from __future__ import annotations

from django.db.models import Q
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


# What other apps (mall, coupons, checkout) ask of membership.


def member_tier_level(*, member_id: int) -> int:
    """The member's current tier level (0 = the entry tier; also for a member with no membership yet)."""
    from members.models import Membership

    return Membership.objects.filter(member_id=member_id).values_list("tier_level", flat=True).first() or 0


def member_card_type_ids(*, member_id: int, at) -> set[int]:
    """Ids of the card types the member holds a valid card of at ``at`` (active, inside its validity)."""
    from members.models import CardStatus, MembershipCard

    return set(
        MembershipCard.objects.filter(
            Q(valid_until__isnull=True) | Q(valid_until__gt=at),
            member_id=member_id,
            status=CardStatus.ACTIVE,
            valid_from__lte=at,
        ).values_list("card_type_id", flat=True)
    )


def tier_progress(*, member_id: int, now=None) -> dict:
    """My tier, the growth counted in the window, and what the next tier needs."""
    from members.models import Membership
    from members.tiers import membership_policy, tiers, window_growth

    now = now or timezone.now()
    policy = membership_policy()
    all_tiers = tiers()
    membership = Membership.objects.filter(member_id=member_id).first()
    level = membership.tier_level if membership else 0
    current = next((t for t in all_tiers if t.level == level), None)
    following = next((t for t in all_tiers if t.level > level), None)
    growth = window_growth(member_id=member_id, at=now, policy=policy)
    return {
        "tier": current,
        "level": level,
        "window_growth": growth,
        "window_months": policy.window_months,
        "growth_total": membership.growth_total if membership else 0,
        "paid_total_fen": membership.paid_total_fen if membership else 0,
        "completed_orders": membership.completed_orders if membership else 0,
        "protected_until": membership.protected_until if membership else None,
        "next_tier": following,
        "growth_needed": max(following.growth_threshold - growth, 0) if following else 0,
        "tiers": all_tiers,
    }


def card_offers(*, member_id: int, now=None) -> list[dict]:
    """Card types I can claim, try or buy now, with my progress toward conditional ones."""
    from members.cards import condition_progress, type_available
    from members.models import CardKind, CardType, Membership, MembershipCard

    now = now or timezone.now()
    membership = Membership.objects.filter(member_id=member_id).first()
    held = {c.card_type_id: c for c in MembershipCard.objects.filter(member_id=member_id)}
    offers = []
    for card_type in CardType.objects.filter(is_active=True).order_by("pk"):
        if not type_available(card_type, now):
            continue
        card = held.get(card_type.pk)
        holding = card is not None and card.is_valid_at(now)
        progress = (
            condition_progress(card_type=card_type, membership=membership)
            if card_type.kind == CardKind.CONDITIONAL
            else None
        )
        revoked = card is not None and card.status == "revoked"
        offers.append(
            {
                "card_type": card_type,
                "held": holding,
                "can_claim": not holding
                and not revoked
                and (
                    card_type.kind == CardKind.FREE
                    or (card_type.kind == CardKind.CONDITIONAL and progress >= card_type.condition_threshold)
                ),
                "can_buy": card_type.kind == CardKind.PAID and not revoked,
                "can_try": card_type.kind == CardKind.PAID and card_type.trial_days > 0 and card is None,
                "progress": progress,
            }
        )
    return offers
