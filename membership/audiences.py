"""The audiences the membership programme decides for the apps below it (registered at startup).

Coupons offer templates to a tier level or to holders of a card type; coupons import nothing of
membership, so membership tells coupons how to ask (``MembershipConfig.ready``).  Each check looks
the selector up when it runs, so a test's monkeypatch of ``membership.selectors`` holds.
"""

from django.utils import timezone

from coupons import audience
from membership import selectors


def _in_tiers(template, member) -> bool:
    return selectors.member_tier_level(member_id=member.pk) in set(
        audience.audience_values_ids(template.audience_values)
    )


def _holds_card(template, member) -> bool:
    held = selectors.member_card_type_ids(member_id=member.pk, at=timezone.now())
    return bool(held & set(audience.audience_values_ids(template.audience_values)))


def register() -> None:
    audience.audience_check_register(audience="tiers", check=_in_tiers)
    audience.audience_check_register(audience="card_holders", check=_holds_card)
