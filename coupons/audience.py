"""Who a coupon template is offered to: one check per audience kind.

``everyone`` and ``new_members`` are decided here.  The others are decided by the apps above coupons,
which register their check at startup (``AppConfig.ready``; coupons imports none of them):
``tiers`` (the member's tier level is one of ``audience_values``) and ``card_holders`` (the member
holds a valid card of one of those card type ids) by membership; ``segment`` (``audience_values`` =
[segment id]: the member matches the segment's rules now) and ``tags`` (``audience_values`` = tag ids:
the member carries any one of them) by analytics.  A kind with no check, a missing or deleted
segment, no tag or only deleted ones, is nobody (never everybody: a targeted coupon must not leak).
A closed account (注销) is in no audience (``members.receiving``).
"""

from collections.abc import Callable
from datetime import timedelta

from django.utils import timezone

from members.receiving import may_receive

NEW_MEMBER_DAYS = 30


def _everyone(template, member) -> bool:
    return True


def _new_member(template, member) -> bool:
    return member.registered_at >= timezone.now() - timedelta(days=NEW_MEMBER_DAYS)


def audience_values_ids(values) -> list[int]:
    """The ids (tier levels, card type ids, a segment id, tag ids) in ``audience_values``, in order; junk dropped."""
    return [int(v) for v in values or [] if str(v).isdigit()]


AUDIENCE_CHECKS: dict[str, Callable[..., bool]] = {
    "everyone": _everyone,
    "new_members": _new_member,
}


def audience_check_register(*, audience: str, check: Callable[..., bool]) -> None:
    """Register ``check(template, member) -> bool`` for an audience kind decided above coupons."""
    AUDIENCE_CHECKS[audience] = check


#: Segments belong to analytics, above coupons, which registers at startup how to list them and find
#: their members (``analytics.audiences``): for the admin's check of a segment audience and its bulk
#: issue to a segment.
_SEGMENTS: dict[str, Callable[..., object]] = {}


def segments_source_register(*, segments: Callable[[], object], members: Callable[..., object]) -> None:
    """Register ``segments()`` (a queryset of every segment) and ``members(segment_id=...)`` (a Member queryset)."""
    _SEGMENTS["segments"], _SEGMENTS["members"] = segments, members


#: What an operator picks for an audience kind decided above coupons: ``[(value stored in
#: audience_values, name)]``, e.g. tier levels with their names (``membership.audiences``).
_CHOICES: dict[str, Callable[[], list[tuple[int, str]]]] = {}


def audience_choices_register(*, audience: str, choices: Callable[[], list[tuple[int, str]]]) -> None:
    """Register ``choices()``: the values an operator may pick for ``audience`` and their names."""
    _CHOICES[audience] = choices


def audience_choices(audience: str) -> list[tuple[int, str]]:
    """The values to pick from for ``audience`` (none when no app registered them)."""
    source = _CHOICES.get(audience)
    return list(source()) if source else []


#: Tags belong to analytics too: how to find the members carrying any of some tags (for a bulk issue).
_TAG_MEMBERS: list[Callable[..., object]] = []


def tag_members_source_register(*, members: Callable[..., object]) -> None:
    """Register ``members(tag_ids=[...])``: a Member queryset of those carrying any one of the tags."""
    _TAG_MEMBERS[:] = [members]


def tag_members(*, tag_ids: list[int]):
    return _TAG_MEMBERS[0](tag_ids=tag_ids)


def segments():
    return _SEGMENTS["segments"]()


def segment_members(*, segment_id: int):
    return _SEGMENTS["members"](segment_id=segment_id)


def member_in_audience(*, template, member) -> bool:
    check = AUDIENCE_CHECKS.get(template.audience)
    return bool(check and may_receive(member) and check(template, member))
