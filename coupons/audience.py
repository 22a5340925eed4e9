"""Who a coupon template is offered to: one function per audience kind.

``everyone`` and ``new_members`` are decided here; ``tiers`` (the member's
tier level is one of ``audience_values``) and ``card_holders`` (the member
holds a valid card of one of those card type ids) ask membership's
selectors.  ``segment`` (``audience_values`` = [segment id]) asks analytics
whether the member matches the segment's rules now; a missing or deleted
segment is nobody (never everybody: a targeted coupon must not leak).
A closed account (注销) is in no audience (``members.receiving``).
"""

from datetime import timedelta

from django.utils import timezone

from members.receiving import may_receive

NEW_MEMBER_DAYS = 30


def _everyone(template, member) -> bool:
    return True


def _new_member(template, member) -> bool:
    return member.registered_at >= timezone.now() - timedelta(days=NEW_MEMBER_DAYS)


def _levels(values) -> set[int]:
    return {int(v) for v in values or [] if str(v).isdigit()}


def _tiers(template, member) -> bool:
    from membership.selectors import member_tier_level

    return member_tier_level(member_id=member.pk) in _levels(template.audience_values)


def _card_holders(template, member) -> bool:
    from membership.selectors import member_card_type_ids

    held = member_card_type_ids(member_id=member.pk, at=timezone.now())
    return bool(held & _levels(template.audience_values))


def _segment(template, member) -> bool:
    from analytics.selectors import member_in_segment, segment_ids_of

    return any(
        member_in_segment(segment_id=segment_id, member_id=member.pk)
        for segment_id in segment_ids_of(template.audience_values)[:1]
    )


AUDIENCE_CHECKS = {
    "everyone": _everyone,
    "new_members": _new_member,
    "tiers": _tiers,
    "card_holders": _card_holders,
    "segment": _segment,
}


def member_in_audience(*, template, member) -> bool:
    check = AUDIENCE_CHECKS.get(template.audience)
    return bool(check and may_receive(member) and check(template, member))
