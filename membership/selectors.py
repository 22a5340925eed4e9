"""Reads of the membership programme for the API, the admin and other apps."""

from __future__ import annotations

import re

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from loyalty.money import format_fen
from members.selectors import channel_name_of
from membership.cards import condition_progress, member_card_rows, type_available
from membership.models import (
    CardKind,
    CardStatus,
    CardType,
    MemberDay,
    Membership,
    MembershipCard,
    Tier,
    TierChange,
)
from membership.tiers import membership_policy, tiers, window_growth

# What other apps (mall, coupons, checkout) ask of membership.


def member_tier_level(*, member_id: int) -> int:
    """The member's current tier level (0 = the entry tier; also for a member with no membership yet)."""
    return Membership.objects.filter(member_id=member_id).values_list("tier_level", flat=True).first() or 0


def member_card_type_ids(*, member_id: int, at) -> set[int]:
    """Ids of the card types the member holds a valid card of at ``at`` (active, inside its validity)."""
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


def member_overview_part(*, member_id: int) -> dict:
    """The operators' member overview: tier progress, cards and the latest tier changes."""
    tier = tier_progress(member_id=member_id)
    return {
        "tier": tier,
        "paid_total": format_fen(tier["paid_total_fen"]),
        "cards": member_card_rows(member_id=member_id).annotate(channel_name=channel_name_of("channel")),
        "history": TierChange.objects.filter(member_id=member_id).order_by("-id")[:20],
    }


# --- labels: where a benefit came from, as operators read it -------------------------------------------

BENEFITS = {
    "discount": _("member discount"),
    "free_shipping": _("free shipping"),
    "points_multiplier": _("points multiplier"),
}
BENEFIT_SOURCES = {
    "tier": pgettext_lazy("membership", "tier"),
    "card": _("membership card"),
    "member_day": _("member day"),
}


def benefit_sources_text(sources: dict) -> list[tuple[str, str]]:
    """An order's ``benefit_sources`` (``{"discount": "card:2 + member_day:1", …}``, written by
    ``benefits.combine``) as ``[("会员折扣", "会员卡「金卡」 + 会员日「周三会员日」"), …]``."""
    ids: dict[str, set[int]] = {kind: set() for kind in BENEFIT_SOURCES}
    for value in sources.values():
        for ref in re.findall(r"[^ +×]+", str(value)):
            kind, _colon, number = ref.partition(":")
            if kind in ids and number.isdigit():
                ids[kind].add(int(number))
    names = {
        "tier": dict(Tier.objects.filter(level__in=ids["tier"]).values_list("level", "name")),
        "card": dict(CardType.objects.filter(pk__in=ids["card"]).values_list("pk", "name")),
        "member_day": dict(MemberDay.objects.filter(pk__in=ids["member_day"]).values_list("pk", "name")),
    }

    def one(ref: str) -> str:
        kind, _colon, number = ref.partition(":")
        if kind not in names or not number.isdigit():
            return ref
        return f"{BENEFIT_SOURCES[kind]}「{names[kind].get(int(number)) or '#' + number}」"

    return [
        (str(BENEFITS.get(key, key)), re.sub(r"[^ +×]+", lambda m: one(m.group(0)), str(value)))
        for key, value in sources.items()
    ]
