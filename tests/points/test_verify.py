"""``manage.py verify_ledgers`` proves a healthy ledger and names every kind of corruption.

The corruptions are written with raw SQL, as a bad migration, a manual fix in
psql or a bug outside ``points.ledger`` would write them.  Entries and
allocations refuse UPDATE and DELETE, so only INSERTs reach them.
"""

import io

import pytest
import time_machine
from django.core.management import CommandError, ManagementUtility, call_command
from django.db import connection

from loyalty.management.commands.verify_ledgers import find_violations
from points import ledger
from points.models import PointsAccount, PointsEntry, PointsLot
from points.verify import CHECKS
from tests.factories import MemberFactory
from tests.helpers import local
from tests.points.helpers import earn, spend

pytestmark = pytest.mark.django_db

(
    BALANCE_SUM,
    LATEST_BALANCE_AFTER,
    LOT_REMAINING,
    LOTS_VS_BALANCE,
    OTHER_ACCOUNT,
    UNALLOCATED,
    OVER_REVERSED,
    ARCHIVED_LOT,
    KEY_LIVE_AND_ARCHIVED,
) = (description for description, _ in CHECKS)


def verify() -> tuple[bool, str, set[str]]:
    """Run the command: (passed, its output, the descriptions of the checks it reported failing)."""
    out = io.StringIO()
    try:
        call_command("verify_ledgers", stdout=out)
    except CommandError as exc:
        passed, output = False, out.getvalue() + str(exc)
    else:
        passed, output = True, out.getvalue()
    failed = {description for description, _ in CHECKS if f"VIOLATION {description}:" in output}
    return passed, output, failed


def rows(description) -> set[tuple[int, ...]]:
    """The violating rows one check finds (the command prints each of them)."""
    return {tuple(int(v) for v in row) for d, row in find_violations() if d == description}


def sql(statement, params=()):
    with connection.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchone() if cur.description else None


@pytest.fixture
def alice():
    """A ledger that has seen every kind of posting.

    Lots at the end: A 70/100 (expires 2027), B 50/50 (never), E 20/25 (expires 2027),
    D 0/10 (expired by the job), F 0/7 (added, then deducted); balance 140.
    """
    member = MemberFactory()
    with time_machine.travel(local(2026, 11, 1, 12), tick=False) as clock:
        earn(member, 10, key="d", expires_at=local(2026, 11, 10))
        clock.move_to(local(2026, 11, 11, 1))
        assert ledger.points_expire_due() == 1
        earn(member, 100, key="a", expires_at=local(2027, 1, 1))
        earn(member, 50, key="b", expires_at=None)
        e = earn(member, 25, key="e", expires_at=local(2027, 1, 1))
        ledger.points_reverse(member_id=member.pk, entry_id=e.entry_id, amount=5, idempotency_key="claw-e")
        spend(member, 30, key="s1")
        s2 = spend(member, 20, key="s2")
        ledger.points_reverse(member_id=member.pk, entry_id=s2.entry_id, idempotency_key="undo-s2")
        ledger.points_adjust(
            member_id=member.pk,
            amount=7,
            reason="r",
            actor_id=None,
            idempotency_key="adj",
            expires_at=local(2026, 12, 1),  # so the deduction below takes exactly these
        )
        ledger.points_adjust(
            member_id=member.pk, amount=-7, reason="r", actor_id=None, idempotency_key="adj-"
        )
    return member


@pytest.fixture
def bob():
    member = MemberFactory()
    earn(member, 40, key="c")
    return member


def account(member) -> PointsAccount:
    return PointsAccount.objects.get(member=member)


def lot(member, key) -> PointsLot:
    return PointsLot.objects.get(entry__account__member=member, entry__idempotency_key=key)


def entry(member, key) -> PointsEntry:
    return PointsEntry.objects.get(account__member=member, idempotency_key=key)


def insert_entry(member, *, kind, amount, balance_after, reverses=None) -> int:
    return sql(
        """INSERT INTO points_pointsentry (account_id, kind, amount, balance_after, source, reference, memo,
                                           idempotency_key, request_hash, reverses_id, created_at)
           VALUES (%s, %s, %s, %s, 'psql', '', '', %s, '', %s, now()) RETURNING id""",
        [account(member).pk, kind, amount, balance_after, f"manual-{kind}-{amount}", reverses],
    )[0]


def insert_allocation(entry_id, lot_id, amount) -> None:
    sql(
        "INSERT INTO points_pointsallocation (entry_id, lot_id, amount) VALUES (%s, %s, %s)",
        [entry_id, lot_id, amount],
    )


def set_balance(member, value) -> None:
    sql("UPDATE points_pointsaccount SET balance = %s WHERE member_id = %s", [value, member.pk])


def set_remaining(lot_id, value) -> None:
    sql("UPDATE points_pointslot SET remaining = %s WHERE id = %s", [value, lot_id])


def test_the_fixture_ledger_is_what_the_corruptions_below_assume(alice, bob):
    assert account(alice).balance == 140
    assert [(lot(alice, k).remaining, lot(alice, k).amount) for k in "abed"] == [
        (70, 100),
        (50, 50),
        (20, 25),
        (0, 10),
    ]
    assert set(PointsEntry.objects.filter(account__member=alice).values_list("kind", flat=True)) == {
        "earn",
        "spend",
        "reverse",
        "expire",
        "adjust",
    }


def test_a_consistent_ledger_passes(alice, bob):
    passed, output, failed = verify()

    assert passed, output
    assert failed == set()
    assert output.splitlines()[-1].startswith("OK: ")  # every app's checks, the points ones among them


def test_an_empty_ledger_passes():
    assert verify()[0]


def test_a_drifted_cached_balance_is_reported(alice, bob):
    set_balance(alice, 150)

    passed, output, failed = verify()

    assert not passed
    assert failed == {BALANCE_SUM, LATEST_BALANCE_AFTER, LOTS_VS_BALANCE}
    assert rows(BALANCE_SUM) == {(account(alice).pk, 150, 140)}
    assert f"VIOLATION {BALANCE_SUM}: ({account(alice).pk}, 150, " in output


def test_an_entry_with_a_wrong_running_balance_is_reported(alice, bob):
    # Balance, lots and allocations all agree with the new entry; only its balance_after lies.
    manual = insert_entry(alice, kind="adjust", amount=10, balance_after=999)
    sql(
        """INSERT INTO points_pointslot (account_id, entry_id, amount, remaining, source, earned_at)
           VALUES (%s, %s, 10, 10, 'psql', now())""",
        [account(alice).pk, manual],
    )
    set_balance(alice, 150)

    passed, output, failed = verify()

    assert not passed
    assert failed == {LATEST_BALANCE_AFTER}
    assert rows(LATEST_BALANCE_AFTER) == {(account(alice).pk, 150, 999)}


def test_a_lot_whose_remaining_disagrees_with_its_allocations_is_reported(alice, bob):
    # Moving 5 points from one lot to another keeps the total, so only the per-lot check sees it.
    a, b = lot(alice, "a"), lot(alice, "b")
    set_remaining(a.pk, 75)
    set_remaining(b.pk, 45)

    passed, output, failed = verify()

    assert not passed
    assert failed == {LOT_REMAINING}
    assert rows(LOT_REMAINING) == {(a.pk, 75, 70), (b.pk, 45, 50)}


def test_lots_that_do_not_add_up_to_the_balance_are_reported(alice, bob):
    # An allocation taking 10 from lot A with nothing posted for it: the lot agrees with its
    # allocations, but the account's lots now hold less than its balance.
    a = lot(alice, "a")
    insert_allocation(entry(alice, "a").pk, a.pk, 10)
    set_remaining(a.pk, 60)

    passed, output, failed = verify()

    assert not passed
    assert failed == {LOTS_VS_BALANCE}
    assert rows(LOTS_VS_BALANCE) == {(account(alice).pk, 140, 130)}


def test_an_allocation_to_another_members_lot_is_reported(alice, bob):
    # Take 10 from Bob's lot and give it back: every sum still agrees, the link itself is wrong.
    s1, c = entry(alice, "s1"), lot(bob, "c")
    insert_allocation(s1.pk, c.pk, 10)
    insert_allocation(s1.pk, c.pk, -10)

    passed, output, failed = verify()

    assert not passed
    assert failed == {OTHER_ACCOUNT}
    assert output.count(f"{OTHER_ACCOUNT}:") == 2
    assert {row[1:] for row in rows(OTHER_ACCOUNT)} == {(account(alice).pk, account(bob).pk)}


def test_an_orphan_allocation_to_another_members_lot_is_reported(alice, bob):
    c = lot(bob, "c")
    insert_allocation(entry(alice, "s1").pk, c.pk, 10)
    set_remaining(c.pk, 30)

    passed, _, failed = verify()

    assert not passed
    assert failed == {OTHER_ACCOUNT, UNALLOCATED, LOTS_VS_BALANCE}


def test_a_spend_allocated_for_more_than_it_took_is_reported(alice, bob):
    # 10 more charged to the spend and 10 given back by an earn: lot B's sums still agree.
    s1, b = entry(alice, "s1"), lot(alice, "b")
    insert_allocation(s1.pk, b.pk, 10)
    insert_allocation(entry(alice, "a").pk, b.pk, -10)

    passed, output, failed = verify()

    assert not passed
    assert failed == {UNALLOCATED}
    assert rows(UNALLOCATED) == {(s1.pk, -30, 40)}


def test_an_expiry_without_allocations_is_reported(alice, bob):
    # An expire entry written by hand, with the balance and a lot brought in line, but never
    # recorded against the lot it emptied.
    b = lot(alice, "b")
    manual = insert_entry(alice, kind="expire", amount=-50, balance_after=90)
    set_balance(alice, 90)
    set_remaining(b.pk, 0)

    passed, output, failed = verify()

    assert not passed
    assert failed == {UNALLOCATED, LOT_REMAINING}  # lot B also lost 50 that no allocation explains
    assert rows(UNALLOCATED) == {(manual, -50, 0)}


def test_a_reversal_larger_than_its_original_is_reported(alice, bob):
    # Spend 2 (20 points) was already given back in full; give back 10 more, with the
    # balance, the lot and the allocation all agreeing.
    s2, a = entry(alice, "s2"), lot(alice, "a")
    extra = insert_entry(alice, kind="reverse", amount=10, balance_after=150, reverses=s2.pk)
    insert_allocation(extra, a.pk, -10)
    set_remaining(a.pk, 80)
    set_balance(alice, 150)

    passed, output, failed = verify()

    assert not passed
    assert failed == {OVER_REVERSED}
    assert rows(OVER_REVERSED) == {(s2.pk, 20, 30)}


def test_every_violation_is_listed_not_just_the_first(alice, bob):
    set_balance(alice, 150)
    set_balance(bob, 1)

    _, output, _ = verify()

    assert output.count(f"VIOLATION {BALANCE_SUM}:") == 2
    assert rows(BALANCE_SUM) == {(account(alice).pk, 150, 140), (account(bob).pk, 1, 40)}


def test_the_command_exits_with_status_1_on_a_violation_and_0_otherwise(alice, bob, monkeypatch, capsys):
    # run_from_argv closes the connections when it is done; the test's transaction needs this one.
    monkeypatch.setattr("django.db.connections.close_all", lambda: None)

    ManagementUtility(["manage.py", "verify_ledgers"]).execute()  # no SystemExit: status 0
    assert "OK:" in capsys.readouterr().out

    set_remaining(lot(alice, "b").pk, 10)  # no new entry: only a full run looks at alice again
    with pytest.raises(SystemExit) as exit_:
        ManagementUtility(["manage.py", "verify_ledgers", "--full"]).execute()

    assert exit_.value.code == 1
    captured = capsys.readouterr()
    assert LOT_REMAINING in captured.out
    assert "violation(s)" in captured.err
