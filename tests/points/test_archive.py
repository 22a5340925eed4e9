"""Archiving the points ledger (``points_archive``): settled history leaves the live tables, and nothing
a member, a replay or ``verify_ledgers`` sees changes."""

import io

import pytest
import time_machine
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from loyalty.errors import IdempotencyConflict
from loyalty.management.commands.verify_ledgers import find_violations
from points import ledger
from points.models import (
    PointsAccount,
    PointsAllocation,
    PointsAllocationArchive,
    PointsEntry,
    PointsEntryArchive,
    PointsLot,
    PointsLotArchive,
)
from tests.factories import MemberFactory
from tests.helpers import local
from tests.points.helpers import balance, earn, spend

pytestmark = pytest.mark.django_db

BEFORE = local(2025, 6, 1)


def counts():
    return (
        PointsEntry.objects.count(),
        PointsLot.objects.count(),
        PointsAllocation.objects.count(),
        PointsEntryArchive.objects.count(),
        PointsLotArchive.objects.count(),
        PointsAllocationArchive.objects.count(),
    )


@pytest.fixture
def carol():
    """2024: earned 100 (expiring at the end of 2024), spent 60, the rest expired; 2026: earned 50, open."""
    member = MemberFactory()
    with time_machine.travel(local(2024, 3, 1, 12), tick=False) as clock:
        earn(member, 100, key="old-earn", expires_at=local(2024, 12, 31))
        clock.move_to(local(2024, 5, 1, 12))
        spend(member, 60, key="old-spend")
        clock.move_to(local(2025, 1, 1, 1))
        assert ledger.points_expire_due() == 1
        clock.move_to(local(2026, 11, 1, 12))
        earn(member, 50, key="recent", expires_at=local(2027, 12, 31))
    return member


def test_settled_history_moves_to_the_archive_and_balances_and_checks_still_hold(carol):
    moved = ledger.points_archive(before=BEFORE, pause=0)

    assert moved == ledger.Archived(entries=3, lots=1, allocations=2)
    assert counts() == (1, 1, 0, 3, 1, 2)
    assert list(PointsEntry.objects.values_list("idempotency_key", flat=True)) == ["recent"]
    assert balance(carol) == 50
    assert find_violations() == []


def test_running_it_again_moves_nothing(carol):
    ledger.points_archive(before=BEFORE, pause=0)
    before = counts()

    assert ledger.points_archive(before=BEFORE, pause=0) == ledger.Archived()
    assert counts() == before


def test_a_replayed_archived_key_returns_its_first_posting_and_posts_nothing(carol):
    first = PointsEntry.objects.get(idempotency_key="old-spend")
    earned = PointsEntry.objects.get(idempotency_key="old-earn")
    ledger.points_archive(before=BEFORE, pause=0)
    before = counts()

    again = spend(carol, 60, key="old-spend")
    earned_again = earn(carol, 100, key="old-earn", expires_at=local(2024, 12, 31))  # the one-statement earn

    assert (again.entry_id, again.amount, again.replayed) == (first.pk, -60, True)
    assert (earned_again.entry_id, earned_again.replayed) == (earned.pk, True)
    assert counts() == before
    assert balance(carol) == 50


def test_an_archived_key_with_other_parameters_is_a_conflict_and_nothing_changes(carol):
    ledger.points_archive(before=BEFORE, pause=0)
    before = counts()

    with pytest.raises(IdempotencyConflict):
        spend(carol, 10, key="old-spend")

    assert counts() == before
    assert balance(carol) == 50


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE points_pointsentryarchive SET amount = 1",
        "DELETE FROM points_pointsentryarchive",
        "UPDATE points_pointslotarchive SET remaining = 1",
        "DELETE FROM points_pointslotarchive",
        "UPDATE points_pointsallocationarchive SET amount = 1",
        "DELETE FROM points_pointsallocationarchive",
    ],
)
def test_archived_rows_refuse_update_and_delete(carol, statement):
    ledger.points_archive(before=BEFORE, pause=0)
    before = counts()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute(statement)

    assert counts() == before


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM points_pointsentry",
        "UPDATE points_pointsentry SET memo = 'x'",
        "DELETE FROM points_pointsallocation",
        "DELETE FROM points_pointslot",
    ],
)
def test_live_rows_leave_only_for_an_identical_archived_copy(carol, statement):
    before = counts()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute(statement)

    assert counts() == before


def test_an_entry_whose_archived_copy_differs_cannot_leave(carol):
    entry = PointsEntry.objects.get(idempotency_key="old-earn")
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO points_pointsentryarchive (id, account_id, kind, amount, balance_after, source, reference,"
            " memo, idempotency_key, request_hash, reverses_id, actor_id, created_at, archived_at)"
            " SELECT id, account_id, kind, amount + 1, balance_after, source, reference, memo,"
            " idempotency_key || '-copy', request_hash, reverses_id, actor_id, created_at, now()"
            " FROM points_pointsentry WHERE id = %s",
            [entry.pk],
        )
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM points_pointsallocation WHERE entry_id = %s", [entry.pk])
        cur.execute("DELETE FROM points_pointsentry WHERE id = %s", [entry.pk])

    assert PointsEntry.objects.filter(pk=entry.pk).exists()


def test_history_that_a_later_entry_depends_on_stays_live():
    """An open lot, a lot a recent spend took from, a spend reversed recently: none of them, nor anything after."""
    never, used, reversed_ = MemberFactory(), MemberFactory(), MemberFactory()
    with time_machine.travel(local(2024, 3, 1, 12), tick=False) as clock:
        earn(never, 10, key="n1", expires_at=None)  # open for ever
        earn(never, 5, key="n2", expires_at=local(2024, 6, 1))
        earn(used, 10, key="u1", expires_at=None)
        s = earn(reversed_, 10, key="r1", expires_at=None)
        spent = spend(reversed_, 10, key="r-spend")
        clock.move_to(local(2026, 11, 1, 12))
        spend(used, 10, key="u-spend")  # empties u1 now, so u1 is settled only since today
        ledger.points_reverse(member_id=reversed_.pk, entry_id=spent.entry_id, idempotency_key="r-undo")
        earn(never, 1, key="n3", expires_at=None)
    assert s.entry_id

    assert ledger.points_archive(before=BEFORE, pause=0) == ledger.Archived()
    assert find_violations() == []


def test_the_command_archives_and_says_what_moved(carol):
    out = io.StringIO()
    with time_machine.travel(local(2026, 12, 1), tick=False):
        call_command("archive_points", "--months", "12", "--pause", "0", stdout=out)

    assert out.getvalue().startswith("archived 3 entries, 1 lots, 2 allocations")
    assert PointsAccount.objects.get(member=carol).balance == 50
