from datetime import timedelta

import pytest

from analytics.models import RfmRun, RfmScore
from analytics.rfm import rfm_nightly, rfm_run_create, rfm_run_execute
from tests.factories import MemberFactory, OrderFactory
from tests.helpers import local

pytestmark = pytest.mark.django_db

AS_OF = local(2026, 6, 1, 12, 0)


def run(as_of=AS_OF):
    return rfm_run_execute(run_id=RfmRun.objects.create(as_of=as_of, window_days=365).pk)


def scores():
    return {
        s.member_id: (s.recency_days, s.frequency, s.monetary_fen, s.r_score, s.f_score, s.m_score, s.segment)
        for s in RfmScore.objects.all()
    }


def test_an_empty_shop_scores_nobody_and_has_no_cut_points():
    MemberFactory()
    result = run()
    assert result.status == "done" and result.members_scored == 0
    assert result.cut_points == {"recency_days": None, "frequency": None, "monetary_fen": None}
    assert RfmScore.objects.count() == 0


def test_a_single_buyer_ties_with_every_cut_point_so_scores_top_recency_and_bottom_frequency_and_value():
    member = MemberFactory()
    OrderFactory(member=member, at=AS_OF - timedelta(days=3), cash_fen=5_000)
    result = run()
    # Every cut point is the member's own fact: no cut is below it (F, M = 1) nor below its days (R = 5).
    assert scores() == {member.pk: (3, 1, 5_000, 5, 1, 1, "general_develop")}
    assert result.cut_points["monetary_fen"] == [5_000] * 4


def test_five_members_with_distinct_facts_score_one_to_five_by_quintile():
    members = [MemberFactory() for _ in range(5)]
    for i, m in enumerate(members):  # member i bought i+1 times, the last (4-i)*10 days ago
        for _ in range(i + 1):
            OrderFactory(member=m, at=AS_OF - timedelta(days=(4 - i) * 10, hours=1), cash_fen=10_000)
    result = run()
    got = scores()
    assert [got[m.pk][:3] for m in members] == [
        (40, 1, 10_000),
        (30, 2, 20_000),
        (20, 3, 30_000),
        (10, 4, 40_000),
        (0, 5, 50_000),
    ]
    assert [got[m.pk][3:6] for m in members] == [(1, 1, 1), (2, 2, 2), (3, 3, 3), (4, 4, 4), (5, 5, 5)]
    assert [got[m.pk][6] for m in members] == [
        "general_retain",
        "general_retain",
        "important_value",
        "important_value",
        "important_value",
    ]
    assert result.cut_points == {
        "recency_days": [0, 10, 20, 30],
        "frequency": [1, 2, 3, 4],
        "monetary_fen": [10_000, 20_000, 30_000, 40_000],
    }


def test_ties_are_never_split_equal_facts_get_equal_scores_whatever_the_member_id():
    members = [MemberFactory() for _ in range(5)]
    for m in members[:4]:
        OrderFactory(member=m, at=AS_OF - timedelta(days=5), cash_fen=3_000)
    OrderFactory(member=members[4], at=AS_OF - timedelta(days=5), cash_fen=3_000)
    OrderFactory(member=members[4], at=AS_OF - timedelta(days=5), cash_fen=9_000)
    run()
    got = scores()
    # Frequency 1,1,1,1,2: every cut point is 1, so 1 scores 1 and 2 beats all four cuts.
    assert {got[m.pk][4] for m in members[:4]} == {1} and got[members[4].pk][4] == 5
    assert {got[m.pk][5] for m in members[:4]} == {1} and got[members[4].pk][5] == 5
    # Everybody bought 5 days ago: one recency, one score, and it is the top one.
    assert {got[m.pk][3] for m in members} == {5}
    assert {got[m.pk][6] for m in members[:4]} == {"general_develop"}
    assert got[members[4].pk][6] == "important_value"


def test_only_completed_purchases_in_the_window_count_at_their_net_paid_value():
    member, other = MemberFactory(), MemberFactory()
    OrderFactory(member=member, at=AS_OF - timedelta(days=400), cash_fen=99_999)  # outside the window
    OrderFactory(
        member=member,
        at=AS_OF - timedelta(days=30),
        cash_fen=8_000,
        stored_value_fen=2_000,
        refunded_fen=3_000,
    )
    OrderFactory(
        member=member, at=AS_OF - timedelta(days=20), cash_fen=5_000, refunded_fen=5_000
    )  # fully refunded
    OrderFactory(member=member, at=AS_OF - timedelta(days=10), cash_fen=4_000, status="cancelled")
    OrderFactory(member=member, at=AS_OF + timedelta(days=1), cash_fen=4_000)  # after as_of
    OrderFactory(member=other, at=AS_OF - timedelta(days=2), cash_fen=1_000, status="committed")
    run()
    assert {k: v[:3] for k, v in scores().items()} == {member.pk: (30, 1, 7_000)}


def test_a_rerun_forgets_members_without_a_purchase_in_the_new_window_and_is_idempotent():
    member, lapsed = MemberFactory(), MemberFactory()
    OrderFactory(member=member, at=AS_OF - timedelta(days=10))
    OrderFactory(member=lapsed, at=AS_OF - timedelta(days=300))
    first = run()
    assert set(scores()) == {member.pk, lapsed.pk}
    later = AS_OF + timedelta(days=100)
    second = run(as_of=later)
    assert set(scores()) == {member.pk}
    again = rfm_run_execute(run_id=second.pk)  # a finished run is not recomputed
    assert again.finished_at == second.finished_at and first.pk != second.pk
    assert RfmScore.objects.get().run_id == second.pk


def test_an_operators_run_is_queued_and_computed_by_the_task_after_commit(django_capture_on_commit_callbacks):
    member = MemberFactory()
    OrderFactory(member=member, at=local(2026, 1, 1, 10))
    with django_capture_on_commit_callbacks(execute=True):
        queued = rfm_run_create(actor_id=None)
    queued.refresh_from_db()
    assert queued.status == "done" and queued.members_scored == 1


def test_the_nightly_run_uses_the_configured_window():
    from analytics.models import AnalyticsSettings

    AnalyticsSettings.objects.update_or_create(pk=1, defaults={"rfm_window_days": 30})
    member, old = MemberFactory(), MemberFactory()
    from django.utils import timezone

    OrderFactory(member=member, at=timezone.now() - timedelta(days=3))
    OrderFactory(member=old, at=timezone.now() - timedelta(days=40))
    result = rfm_nightly()
    assert result.window_days == 30 and set(scores()) == {member.pk}
