from datetime import timedelta
from fractions import Fraction

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from loyalty import rounding
from membership import cards
from membership.benefits import Benefits, Offer, combine, member_benefits, points_multiplier
from membership.models import MemberDay, Membership
from membership.tiers import lock_membership
from tests.factories import CardTypeFactory, MemberFactory
from tests.helpers import local
from tests.membership.helpers import set_tiers

pytestmark = pytest.mark.django_db

WEDNESDAY = local(2026, 12, 2, 12, 0)


@pytest.fixture
def member(db):
    set_tiers((0, 0), (2, 5000, 500, "1.5", False))
    return MemberFactory()


def at_level(member, level):
    lock_membership(member_id=member.pk)
    Membership.objects.filter(member=member).update(tier_level=level)


def test_an_entry_member_with_nothing_gets_nothing(member):
    assert member_benefits(member_id=member.pk, at=timezone.now()) == Benefits()


def test_best_of_tier_and_cards_not_the_sum(member):
    at_level(member, 2)
    better = CardTypeFactory(kind="free", name="8折卡", discount_bp=2000, points_multiplier="1.2")
    shipping = CardTypeFactory(kind="free", name="包邮卡", discount_bp=300, free_shipping=True)
    for ct in (better, shipping):
        cards.card_claim(member_id=member.pk, card_type_id=ct.pk)

    b = member_benefits(member_id=member.pk, at=timezone.now())

    assert b.discount_bp == 2000 and b.free_shipping
    assert b.points_multiplier == Fraction(3, 2)
    assert b.sources == {
        "discount": f"card:{better.pk}",
        "free_shipping": f"card:{shipping.pk}",
        "points_multiplier": "tier:2",
    }


def test_design_example_five_member_day_doubles_the_tier_multiplier_and_stacks_its_discount(member):
    at_level(member, 2)
    md = MemberDay.objects.create(
        name="周三", recurrence="weekly", weekday=2, points_multiplier=2, extra_discount_bp=500
    )

    b = member_benefits(member_id=member.pk, at=WEDNESDAY)

    assert b.points_multiplier == Fraction(3)
    assert b.discount_bp == 975  # 9.5折 × 9.5折 = 9.025折
    assert b.sources["points_multiplier"] == f"tier:2 × member_day:{md.pk}"
    assert points_multiplier(member_id=member.pk, at=WEDNESDAY) == Fraction(3)


def test_an_expired_or_revoked_card_gives_nothing(member, admin_user):
    ct = CardTypeFactory(kind="free", validity="days", valid_days=1, discount_bp=1000)
    card = cards.card_claim(member_id=member.pk, card_type_id=ct.pk)

    assert member_benefits(member_id=member.pk, at=timezone.now() + timedelta(days=1)).discount_bp == 0
    cards.card_revoke(card_id=card.pk, actor_id=admin_user.pk, reason="x")
    assert member_benefits(member_id=member.pk, at=timezone.now()).discount_bp == 0


def test_two_member_days_on_one_day_give_the_best_not_both(member):
    MemberDay.objects.create(name="a", recurrence="weekly", weekday=2, points_multiplier=2)
    MemberDay.objects.create(name="b", recurrence="monthly", day_of_month=2, points_multiplier=3)

    assert member_benefits(member_id=member.pk, at=WEDNESDAY).points_multiplier == Fraction(3)


@given(st.integers(0, 9999), st.integers(0, 9999))
def test_a_stacked_discount_is_at_least_either_part_within_half_a_point_of_the_product_and_never_free(
    best, extra
):
    stacked = rounding.stacked_discount_bp(best_bp=best, extra_bp=extra)
    exact = Fraction(10**8 - (10000 - best) * (10000 - extra), 10000)

    assert max(best, extra) <= stacked <= 9999
    assert abs(stacked - exact) <= Fraction(1, 2) or stacked == 9999


@given(st.lists(st.integers(0, 9999), min_size=1, max_size=4))
def test_combine_takes_the_largest_discount_of_tier_and_cards(discounts):
    offers = [Offer(source=str(i), discount_bp=d) for i, d in enumerate(discounts)]
    assert combine(base=offers, member_days=[]).discount_bp == max(discounts)
