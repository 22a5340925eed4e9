"""Real parallel connections: threads, each with its own database connection."""

import pytest

from points import earning, ledger
from points.models import CheckIn, PointsEntry
from tests.concurrency import run_concurrently
from tests.factories import MemberFactory
from tests.helpers import assert_ledgers_consistent
from tests.points.helpers import balance

# Up to 50 connections at once, fewer when the server has fewer free (tests/concurrency.py); one
# xdist worker runs every module of this group (Makefile: --dist loadgroup).
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_rules"),
    pytest.mark.xdist_group("many-connections"),
]


def test_fifty_parallel_spends_never_overdraw():
    member = MemberFactory()
    ledger.points_earn(
        member_id=member.pk, amount=1000, idempotency_key="seed", source="test", expires_at=None
    )

    results, errors = run_concurrently(
        lambda i: ledger.points_spend(member_id=member.pk, amount=30, idempotency_key=f"spend-{i}"), 50
    )

    assert len(results) == 33 and errors == ["insufficient_points"] * 17
    assert balance(member) == 10
    assert sorted(r.balance_after for r in results) == list(range(10, 1000, 30))


def test_fifty_requests_with_one_key_post_once():
    member = MemberFactory()
    ledger.points_earn(
        member_id=member.pk, amount=1000, idempotency_key="seed", source="test", expires_at=None
    )

    results, errors = run_concurrently(
        lambda i: ledger.points_spend(member_id=member.pk, amount=30, idempotency_key="order-1"), 50
    )

    assert errors == []
    assert len({r.entry_id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert PointsEntry.objects.filter(kind="spend").count() == 1
    assert balance(member) == 970


def test_twenty_parallel_check_ins_on_one_day_grant_once():
    member = MemberFactory()

    results, errors = run_concurrently(lambda i: earning.points_check_in(member_id=member.pk), 20)

    assert errors == []
    assert sum(r.created for r in results) == 1
    assert {r.points for r in results} == {5}
    assert CheckIn.objects.count() == 1
    assert balance(member) == 5


def test_the_expiry_job_beside_live_spends_keeps_every_invariant():
    from datetime import timedelta

    from django.utils import timezone

    members = [MemberFactory() for _ in range(20)]
    past = timezone.now() + timedelta(seconds=1)
    for m in members:
        ledger.points_earn(member_id=m.pk, amount=100, idempotency_key="due", source="t", expires_at=past)
        ledger.points_earn(member_id=m.pk, amount=100, idempotency_key="keep", source="t", expires_at=None)
    import time

    time.sleep(1.1)

    def work(i):
        if i == 0:
            return ledger.points_expire_due(chunk_size=3)
        return ledger.points_spend(member_id=members[i % 20].pk, amount=40, idempotency_key=f"s{i}")

    run_concurrently(work, 21)
    ledger.points_expire_due()

    assert_ledgers_consistent()
    assert all(balance(m) in (60, 20) for m in members)
