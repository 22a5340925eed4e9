"""Who a coupon template is offered to: one function per audience kind.

``everyone`` and ``new_members`` are decided here.  ``tiers``,
``card_holders`` and ``segment`` are decided by the membership and analytics
issues: they register their function in ``AUDIENCE_CHECKS`` when they land.
Until then a template with such an audience is offered to nobody (never to
everybody: a targeted coupon must not leak).
"""

from datetime import timedelta

from django.utils import timezone

NEW_MEMBER_DAYS = 30


def _everyone(template, member) -> bool:
    return True


def _new_member(template, member) -> bool:
    return member.registered_at >= timezone.now() - timedelta(days=NEW_MEMBER_DAYS)


AUDIENCE_CHECKS = {"everyone": _everyone, "new_members": _new_member}


def member_in_audience(*, template, member) -> bool:
    check = AUDIENCE_CHECKS.get(template.audience)
    return bool(check and check(template, member))
