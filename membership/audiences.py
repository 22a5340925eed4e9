"""The audiences the membership programme decides for the apps below it (registered at startup).

Coupons offer templates to a tier level or to holders of a card type; coupons import nothing of
membership, so membership tells coupons how to ask, and what the admin's pickers offer (``MembershipConfig.ready``).  Each check looks
the selector up when it runs, so a test's monkeypatch of ``membership.selectors`` holds.
"""

from django.utils import timezone

from coupons import audience
from membership import selectors
from membership.models import CardType, Tier


def _in_tiers(template, member) -> bool:
    return selectors.member_tier_level(member_id=member.pk) in set(
        audience.audience_values_ids(template.audience_values)
    )


def _holds_card(template, member) -> bool:
    held = selectors.member_card_type_ids(member_id=member.pk, at=timezone.now())
    return bool(held & set(audience.audience_values_ids(template.audience_values)))


def tier_choices() -> list[tuple[int, str]]:
    """Tiers by level, as an operator picks them: 普通会员, 白银会员 …"""
    return [(level, name) for level, name in Tier.objects.order_by("level").values_list("level", "name")]


def card_type_choices() -> list[tuple[int, str]]:
    """Card types by id, as an operator picks them (inactive ones too: a saved choice stays shown)."""
    return list(CardType.objects.order_by("name", "pk").values_list("pk", "name"))


def register() -> None:
    audience.audience_check_register(audience="tiers", check=_in_tiers)
    audience.audience_check_register(audience="card_holders", check=_holds_card)
    audience.audience_choices_register(audience="tiers", choices=tier_choices)
    audience.audience_choices_register(audience="card_holders", choices=card_type_choices)
