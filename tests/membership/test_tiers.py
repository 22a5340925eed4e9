from datetime import timedelta

import pytest
import time_machine
from django.db.models import F

from coupons.models import Coupon, GiftPackGrant, GiftPackItem
from loyalty.errors import IdempotencyConflict
from membership import tiers as tier_service
from membership.models import GrowthEntry, Tier, TierChange
from membership.services import membership_record_order, membership_record_refund
from notifications.models import Notification
from points.models import PointsEntry
from tests.factories import CouponTemplateFactory, MemberFactory
from tests.helpers import local
from tests.membership.helpers import (
    growth_sum,
    history,
    level,
    membership,
    policy,
    snapshot,
    standard_tiers,
)

pytestmark = pytest.mark.django_db

T0 = local(2026, 3, 1, 10, 0)


def order(member, no, paid_fen, at=None):
    membership_record_order(member_id=member.pk, order_no=no, paid_fen=paid_fen, completed_at=at or T0)


@pytest.fixture
def member(tiers):
    return MemberFactory()


@time_machine.travel(T0, tick=False)
def test_growth_one_fen_short_of_a_threshold_keeps_the_entry_tier(member):
    order(member, "A1", 99_999)  # 999.99 yuan -> 999 growth

    assert membership(member).growth_total == 999
    assert level(member) == 0 and history(member) == []


@time_machine.travel(T0, tick=False)
def test_growth_exactly_at_a_threshold_upgrades_at_once_with_history_gift_and_notice(tiers):
    standard_tiers(upgrade_packs=True)
    member = MemberFactory()

    order(member, "A1", 100_000)

    assert level(member) == 1
    assert history(member) == [(0, 1, "order")]
    assert GiftPackGrant.objects.filter(member=member, occasion="tier-upgrade:1").count() == 1
    assert Notification.objects.filter(member=member, kind="tier_change").count() == 1


@time_machine.travel(T0, tick=False)
def test_a_big_order_passes_several_tiers_and_gives_each_upgrade_pack_once(tiers):
    standard_tiers(upgrade_packs=True)
    member = MemberFactory()

    order(member, "A1", 2_000_000)
    order(member, "A2", 100)

    assert level(member) == 3
    assert history(member) == [(0, 3, "order")]
    occasions = sorted(GiftPackGrant.objects.filter(member=member).values_list("occasion", flat=True))
    assert occasions == ["tier-upgrade:1", "tier-upgrade:2", "tier-upgrade:3"]


@time_machine.travel(T0, tick=False)
def test_orders_add_growth_spend_and_count_and_the_cache_equals_the_ledger(member):
    order(member, "A1", 12_345)
    order(member, "A2", 50_050)

    m = membership(member)
    assert (m.growth_total, m.paid_total_fen, m.completed_orders) == (123 + 500, 62_395, 2)
    assert growth_sum(member) == m.growth_total


@time_machine.travel(T0, tick=False)
def test_recording_an_order_twice_changes_nothing(member):
    order(member, "A1", 150_000)
    before = snapshot(member)

    order(member, "A1", 150_000)

    assert snapshot(member) == before


@time_machine.travel(T0, tick=False)
def test_the_same_order_number_with_another_amount_is_a_conflict_and_changes_nothing(member):
    order(member, "A1", 150_000)
    before = snapshot(member)

    with pytest.raises(IdempotencyConflict):
        order(member, "A1", 160_000)

    assert snapshot(member) == before


@time_machine.travel(T0, tick=False)
def test_partial_refunds_take_back_growth_exactly_and_never_below_zero(member):
    order(member, "A1", 10_050)  # 100 growth

    membership_record_refund(member_id=member.pk, order_no="A1", refund_no="R1", paid_fen=60)  # 99.90 left
    membership_record_refund(member_id=member.pk, order_no="A1", refund_no="R1", paid_fen=60)  # replay
    m = membership(member)
    assert (m.growth_total, m.paid_total_fen) == (99, 9_990)

    membership_record_refund(
        member_id=member.pk, order_no="A1", refund_no="R2", paid_fen=50_000
    )  # more than left
    m = membership(member)
    assert (m.growth_total, m.paid_total_fen) == (0, 0)
    assert growth_sum(member) == 0
    assert list(
        GrowthEntry.objects.filter(member=member, kind="refund").values_list("paid_fen", flat=True)
    ) == [
        60,
        9_990,
    ]


@time_machine.travel(T0, tick=False)
def test_a_refund_of_an_unknown_order_takes_nothing(member):
    order(member, "A1", 10_000)
    before = snapshot(member)

    membership_record_refund(member_id=member.pk, order_no="NOPE", refund_no="R1", paid_fen=500)

    assert snapshot(member) == before


def refund(member, no, refund_no, paid_fen, *, whole=False):
    membership_record_refund(
        member_id=member.pk, order_no=no, refund_no=refund_no, paid_fen=paid_fen, fully_refunded=whole
    )


def with_coupon(tier_level):
    """The upgrade pack of ``tier_level`` gets a coupon too (its points are 10 × level)."""
    tier = Tier.objects.get(level=tier_level)
    GiftPackItem.objects.create(pack=tier.upgrade_pack, template=CouponTemplateFactory(per_member_limit=5))


def pack_state(member, level_):
    """(coupon statuses, points left of the pack) of the member's upgrade pack for ``level_``."""
    grant = GiftPackGrant.objects.get(member=member, occasion=f"tier-upgrade:{level_}")
    coupons = list(
        Coupon.objects.filter(member=member, issue_key__startswith=f"pack:{grant.pk}:").values_list(
            "status", flat=True
        )
    )
    gift = PointsEntry.objects.get(account__member=member, idempotency_key=f"gift-pack:{grant.pk}")
    return coupons, gift.amount + sum(r.amount for r in gift.reversals.all())


def test_a_full_refund_undoes_the_upgrade_it_gave_at_once_protection_and_gift_pack_included(tiers):
    standard_tiers(upgrade_packs=True)
    with_coupon(1)
    with_coupon(2)
    member = MemberFactory()
    with time_machine.travel(T0, tick=False):
        order(member, "A1", 500_000)  # 5,000 growth: level 2, protected for 90 days
    assert level(member) == 2 and membership(member).protected_until == T0 + timedelta(days=90)

    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        refund(member, "A1", "R1", 500_000, whole=True)

    m = membership(member)
    assert (m.tier_level, m.growth_total, m.paid_total_fen, m.completed_orders) == (0, 0, 0, 0)
    assert (m.tier_changed_at, m.protected_until) == (None, None)  # as before the order: never changed
    assert history(member) == [(0, 2, "order"), (2, 0, "refund")]
    assert TierChange.objects.filter(member=member).last().note == "order A1 refunded (R1)"
    assert pack_state(member, 1) == (["voided"], 0) and pack_state(member, 2) == (["voided"], 0)
    assert list(
        Notification.objects.filter(member=member, kind="tier_change")
        .order_by("pk")
        .values_list("data", flat=True)
    ) == [
        {"from_level": 0, "to_level": 2, "reason": "order"},
        {"from_level": 2, "to_level": 0, "reason": "refund"},
    ]
    notice = Notification.objects.filter(member=member, kind="tier_change").order_by("pk").last()
    assert notice.body == "因订单退款，升级所得的成长值已扣回，您的等级恢复为L0。"


def test_a_partial_refund_undoes_only_the_level_it_takes_below_its_threshold(tiers):
    standard_tiers(upgrade_packs=True)
    with_coupon(1)
    with_coupon(2)
    member = MemberFactory()
    with time_machine.travel(T0, tick=False):
        order(member, "A1", 600_000)  # 6,000 growth: level 2

    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        refund(member, "A1", "R1", 50_000)  # 5,500 left: still level 2
        assert history(member) == [(0, 2, "order")]
        refund(member, "A1", "R2", 150_000)  # 4,000 left: level 1 stays, level 2 goes

    m = membership(member)
    assert (m.tier_level, m.growth_total, m.completed_orders) == (1, 4_000, 1)
    assert history(member) == [(0, 2, "order"), (2, 1, "refund")]
    # Level 1 is still the order's gain: its protection and its pack stand.
    assert (m.tier_changed_at, m.protected_until) == (T0, T0 + timedelta(days=90))
    assert pack_state(member, 1) == (["available"], 10) and pack_state(member, 2) == (["voided"], 0)


def test_a_level_held_before_the_refunded_order_stays_with_its_own_protection(tiers):
    standard_tiers(upgrade_packs=True)
    member = MemberFactory()
    with time_machine.travel(T0, tick=False):
        order(member, "A1", 100_000)  # level 1
    later = T0 + timedelta(days=10)
    with time_machine.travel(later, tick=False):
        order(member, "B1", 500_000, at=later)  # level 2
    with time_machine.travel(later + timedelta(days=1), tick=False):
        refund(member, "B1", "R1", 500_000, whole=True)

    m = membership(member)
    assert (m.tier_level, m.completed_orders) == (1, 1)
    assert (m.tier_changed_at, m.protected_until) == (T0, T0 + timedelta(days=90))
    assert history(member) == [(0, 1, "order"), (1, 2, "order"), (2, 1, "refund")]
    assert pack_state(member, 1) == ([], 10) and pack_state(member, 2) == ([], 0)


def test_refunding_an_earlier_order_undoes_a_later_gain_the_growth_no_longer_reaches(tiers):
    member = MemberFactory()
    with time_machine.travel(T0, tick=False):
        order(member, "A1", 300_000)  # 3,000: level 1
    later = T0 + timedelta(days=1)
    with time_machine.travel(later, tick=False):
        order(member, "B1", 200_000, at=later)  # 5,000: level 2
    with time_machine.travel(later + timedelta(hours=1), tick=False):
        refund(member, "A1", "R1", 300_000, whole=True)  # 2,000 left: level 1, gained since A1 too, holds

    m = membership(member)
    assert (m.tier_level, m.growth_total, m.completed_orders) == (1, 2_000, 1)
    assert history(member) == [(0, 1, "order"), (1, 2, "order"), (2, 1, "refund")]
    assert m.protected_until == T0 + timedelta(days=90)  # level 1 was reached by A1's upgrade


def test_a_refund_that_leaves_every_threshold_met_changes_no_tier(tiers):
    member = MemberFactory()
    with time_machine.travel(T0, tick=False):
        order(member, "A1", 100_000)
        order(member, "A2", 100_000)  # 2,000 growth: level 1
        refund(member, "A2", "R1", 100_000, whole=True)

    m = membership(member)
    assert (m.tier_level, m.completed_orders, m.protected_until) == (1, 1, T0 + timedelta(days=90))
    assert history(member) == [(0, 1, "order")]


def test_a_repeated_refund_undoes_nothing_twice(tiers):
    member = MemberFactory()
    with time_machine.travel(T0, tick=False):
        order(member, "A1", 500_000)
        refund(member, "A1", "R1", 500_000, whole=True)
        before = snapshot(member)
        refund(member, "A1", "R1", 500_000, whole=True)

    assert snapshot(member) == before and membership(member).completed_orders == 0
    assert Notification.objects.filter(member=member, kind="tier_change").count() == 2


@time_machine.travel(T0, tick=False)
def test_a_fully_refunded_first_order_no_longer_counts_so_the_next_is_first_again(member):
    assert membership_record_order(member_id=member.pk, order_no="A1", paid_fen=10_000, completed_at=T0) == 0
    refund(member, "A1", "R1", 5_000)
    assert membership(member).completed_orders == 1  # a partial refund leaves the order counting

    refund(member, "A1", "R2", 5_000, whole=True)

    assert membership(member).completed_orders == 0
    assert membership_record_order(member_id=member.pk, order_no="B1", paid_fen=10_000, completed_at=T0) == 0


def test_downgrade_waits_for_protection_then_drops_one_level_per_period(member):
    policy(protection_days=90, downgrade_period_days=30)
    with time_machine.travel(T0, tick=False):
        order(member, "A1", 2_000_000)  # level 3
    Tier.objects.filter(level__gt=0).update(
        growth_threshold=F("growth_threshold") * 1_000
    )  # now out of reach

    with time_machine.travel(T0 + timedelta(days=60), tick=False):
        tier_service.tiers_recalculate()
    assert level(member) == 3  # protected after the upgrade

    with time_machine.travel(T0 + timedelta(days=91), tick=False):
        tier_service.tiers_recalculate()
        tier_service.tiers_recalculate()  # a second run the same night changes nothing
    assert level(member) == 2
    assert history(member) == [(0, 3, "order"), (3, 2, "nightly_down")]

    with time_machine.travel(T0 + timedelta(days=120), tick=False):
        tier_service.tiers_recalculate()
    assert level(member) == 2  # 29 days after the downgrade: still in the period

    with time_machine.travel(T0 + timedelta(days=122), tick=False):
        tier_service.tiers_recalculate()
    assert level(member) == 1
    assert history(member)[-1] == (2, 1, "nightly_down")


def test_growth_leaves_the_rolling_window_and_the_tier_follows(member):
    policy(window_months=12, protection_days=30, downgrade_period_days=1)
    with time_machine.travel(T0, tick=False):
        order(member, "A1", 100_000)  # level 1
    with time_machine.travel(local(2027, 2, 28, 2, 30), tick=False):
        tier_service.tiers_recalculate()
        assert level(member) == 1  # still inside twelve months
    with time_machine.travel(local(2027, 3, 1, 10, 1), tick=False):
        tier_service.tiers_recalculate()
        assert level(member) == 0


def test_the_nightly_run_upgrades_members_a_lowered_threshold_now_qualifies(member):
    with time_machine.travel(T0, tick=False):
        order(member, "A1", 80_000)
    assert level(member) == 0
    from membership.models import Tier

    Tier.objects.filter(level=1).update(growth_threshold=800)
    with time_machine.travel(T0 + timedelta(hours=16), tick=False):
        result = tier_service.tiers_recalculate(chunk_size=1)

    assert level(member) == 1 and history(member) == [(0, 1, "nightly_up")]
    assert result == {"memberships": 1, "changed": 1}
    assert Notification.objects.filter(member=member, kind="tier_change").count() == 1


def test_the_nightly_run_walks_every_chunk(tiers):
    members = [MemberFactory() for _ in range(5)]
    with time_machine.travel(T0, tick=False):
        for i, m in enumerate(members):
            order(m, f"O{i}", 100_000 * (i % 2))
    from membership.models import Tier

    Tier.objects.filter(level=1).update(growth_threshold=1)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        result = tier_service.tiers_recalculate(chunk_size=2)

    assert result["memberships"] == 5
    assert [level(m) for m in members] == [0, 1, 0, 1, 0]


@time_machine.travel(T0, tick=False)
def test_growth_from_a_task_counts_once_and_can_upgrade(member):
    from membership.services import membership_award_growth

    membership_award_growth(member_id=member.pk, amount=1000, idempotency_key="review:42")
    membership_award_growth(member_id=member.pk, amount=1000, idempotency_key="review:42")
    before = snapshot(member)
    with pytest.raises(IdempotencyConflict):
        membership_award_growth(member_id=member.pk, amount=5, idempotency_key="review:42")

    assert snapshot(member) == before
    assert membership(member).growth_total == 1000 and history(member) == [(0, 1, "task")]
