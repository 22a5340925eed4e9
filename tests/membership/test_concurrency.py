"""Real parallel connections: threads, each with its own database connection."""

import threading
from concurrent.futures import wait

import pytest
from django.db import transaction
from django.utils import timezone

from membership import cards
from membership.models import CardPurchase, GrowthEntry, Membership, MembershipCard
from membership.services import membership_record_order
from payments.models import Payment
from tests.concurrency import in_thread, run_concurrently
from tests.factories import CardTypeFactory, MemberFactory
from tests.helpers import assert_ledgers_consistent
from tests.membership.helpers import policy, standard_tiers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("many-connections")]


@pytest.fixture
def setup(db):
    policy()
    standard_tiers()


def test_a_conditional_card_is_granted_exactly_once_under_parallel_order_completions(setup):
    member = MemberFactory()
    CardTypeFactory(kind="conditional", condition="paid_spend", condition_threshold=100_000)

    def complete(i):
        with transaction.atomic():  # checkout's completion transaction
            membership_record_order(
                member_id=member.pk, order_no=f"O{i}", paid_fen=50_000, completed_at=timezone.now()
            )

    results, errors = run_concurrently(complete, 12)

    assert errors == [] and len(results) == 12
    assert MembershipCard.objects.filter(member=member).count() == 1
    m = Membership.objects.get(member=member)
    assert (m.paid_total_fen, m.completed_orders, m.growth_total) == (600_000, 12, 6_000)
    assert m.tier_level == 2


def test_one_order_completed_in_parallel_counts_once(setup):
    member = MemberFactory()

    results, errors = run_concurrently(
        lambda i: membership_record_order(
            member_id=member.pk, order_no="SAME", paid_fen=12_300, completed_at=timezone.now()
        ),
        10,
    )

    assert errors == [] and GrowthEntry.objects.filter(member=member).count() == 1
    assert Membership.objects.get(member=member).paid_total_fen == 12_300


def test_buying_a_paid_card_twice_in_parallel_starts_one_payment(setup):
    member = MemberFactory()
    ct = CardTypeFactory(kind="paid")

    results, errors = run_concurrently(
        lambda i: cards.card_purchase_create(member=member, card_type_id=ct.pk), 8
    )

    assert len(results) == 1 and errors == ["card_purchase_pending"] * 7
    assert CardPurchase.objects.count() == 1 and Payment.objects.count() == 1


def test_claiming_a_free_card_in_parallel_gives_one_card(setup):
    member = MemberFactory()
    ct = CardTypeFactory(kind="free")

    results, errors = run_concurrently(lambda i: cards.card_claim(member_id=member.pk, card_type_id=ct.pk), 8)

    assert len(results) == 1 and errors == ["card_already_held"] * 7
    assert MembershipCard.objects.filter(member=member).count() == 1


def test_the_nightly_run_never_overwrites_a_member_whose_order_completes_meanwhile(setup):
    from datetime import timedelta

    from membership import tiers
    from membership.models import TierChange

    member = MemberFactory()
    with transaction.atomic():
        m = tiers.lock_membership(member_id=member.pk)
        Membership.objects.filter(pk=m.pk).update(
            tier_level=2, protected_until=timezone.now() - timedelta(days=1)
        )
    holding, release = threading.Event(), threading.Event()

    def order_in_flight():
        with transaction.atomic():
            membership_record_order(
                member_id=member.pk, order_no="LATE", paid_fen=500_000, completed_at=timezone.now()
            )
            holding.set()
            release.wait(10)

    checkout = in_thread(order_in_flight)
    assert holding.wait(10)
    # The job decides a downgrade from the committed state, then waits for the row.
    job = in_thread(tiers.tiers_recalculate)
    wait([job], timeout=1.5)
    release.set()
    checkout.result(timeout=60)
    job.result(timeout=60)

    m = Membership.objects.get(member=member)
    assert m.tier_level == 2 and m.growth_total == 5_000
    assert not TierChange.objects.filter(member=member).exists()


def test_points_posted_while_the_membership_is_busy_never_wait_for_it_and_the_card_follows(
    setup, default_rules
):
    """The points account comes after the membership in the lock order: a check-in must not wait for it."""
    import time

    from membership.tiers import lock_membership
    from points import earning
    from points.models import CheckIn

    member = MemberFactory()
    CardTypeFactory(kind="conditional", condition="points", condition_threshold=5)
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=100, completed_at=timezone.now())
    holding, release = threading.Event(), threading.Event()

    def busy():  # an order completion of the same member, say, holding the membership
        with transaction.atomic():
            lock_membership(member_id=member.pk)
            holding.set()
            release.wait(10)

    other = in_thread(busy)
    assert holding.wait(10)
    tapping = in_thread(
        lambda: earning.points_check_in(member_id=member.pk)
    )  # the card's task runs on commit
    deadline = time.monotonic() + 5
    while not CheckIn.objects.filter(member=member).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    committed_while_busy = CheckIn.objects.filter(member=member).exists()
    card_while_busy = MembershipCard.objects.filter(member=member).exists()
    release.set()
    other.result(timeout=30)
    tapping.result(timeout=30)

    assert committed_while_busy and not card_while_busy
    assert MembershipCard.objects.filter(member=member, status="active", source="condition").count() == 1


def test_two_orders_of_a_member_refunded_whole_in_parallel_undo_the_tier_and_count_once_each(setup):
    from datetime import timedelta

    from membership.models import TierChange
    from membership.services import membership_record_refund

    member = MemberFactory()
    start = timezone.now() - timedelta(minutes=5)
    for i, no in enumerate(("A", "B")):  # 3,000 growth each: level 1 after A, level 2 after B
        membership_record_order(
            member_id=member.pk, order_no=no, paid_fen=300_000, completed_at=start + timedelta(minutes=i)
        )

    def refund(i):
        with transaction.atomic():  # checkout's refund transaction
            membership_record_refund(
                member_id=member.pk,
                order_no="AB"[i],
                refund_no="R",
                paid_fen=300_000,
                fully_refunded=True,
            )

    results, errors = run_concurrently(refund, 2)

    assert errors == [] and len(results) == 2
    m = Membership.objects.get(member=member)
    assert (m.tier_level, m.growth_total, m.paid_total_fen, m.completed_orders) == (0, 0, 0, 0)
    downs = TierChange.objects.filter(member=member, reason="refund").order_by("pk")
    assert [c.to_level for c in downs][-1] == 0 and all(c.to_level < c.from_level for c in downs)
    assert_ledgers_consistent("members")
