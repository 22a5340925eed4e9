"""Who may redeem a tier- or card-only item: decided here, once, from what membership says of the member."""

from __future__ import annotations

from membership import selectors as members


def item_unlocked(*, item, member_id: int, at, tier_level: int | None = None, card_type_ids=None) -> bool:
    """True when the member's tier reaches ``item.min_tier_level`` and, when the item names card types,
    the member holds a valid card of any one of them at ``at``.

    ``tier_level`` and ``card_type_ids`` may be passed in when the caller
    already asked membership (the catalogue asks once per page, not per item).
    """
    if item.min_tier_level:
        level = members.member_tier_level(member_id=member_id) if tier_level is None else tier_level
        if level < item.min_tier_level:
            return False
    required = {int(i) for i in item.required_card_type_ids or []}
    if required:
        held = (
            members.member_card_type_ids(member_id=member_id, at=at)
            if card_type_ids is None
            else card_type_ids
        )
        if not required & set(held):
            return False
    return True


def member_unlocks(*, member_id: int, at) -> tuple[int, set[int]]:
    """(tier level, card type ids held) — asked once and passed to ``item_unlocked`` for many items."""
    return (
        members.member_tier_level(member_id=member_id),
        set(members.member_card_type_ids(member_id=member_id, at=at)),
    )
