"""``verify_ledgers`` checks what changed since its last clean run (a watermark per ledger); ``--full`` all."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from loyalty.management.commands.verify_ledgers import verify
from loyalty.models import VerifyWatermark
from points.models import PointsAccount, PointsEntry
from tests.factories import MemberFactory
from tests.points.helpers import earn

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_lag")]

BALANCE_SUM = "points: cached balance differs from the sum of entries"


@pytest.fixture
def no_lag():
    with override_settings(VERIFY_LEDGERS_LAG=0):
        yield


def corrupt_balance(member, by=1):
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE points_pointsaccount SET balance = balance + %s WHERE member_id = %s", [by, member.pk]
        )


def points_scope(run) -> str:
    return next(s for s in run.scopes if s.startswith("points:"))


def test_the_first_run_checks_every_account_and_sets_the_watermark():
    a, b = MemberFactory(), MemberFactory()
    earn(a, 10, key="a1")
    earn(b, 10, key="b1")

    run = verify()

    assert run.violations == []
    assert points_scope(run) == "points: every account"
    assert VerifyWatermark.objects.get(ledger="points").last_entry_id == PointsEntry.objects.latest("id").pk


def test_a_run_after_new_entries_checks_only_their_accounts():
    a, b, c = MemberFactory(), MemberFactory(), MemberFactory()
    for m in (a, b, c):
        earn(m, 10, key="first")
    verify()
    mark = VerifyWatermark.objects.get(ledger="points").last_entry_id
    earn(b, 5, key="second")
    earn(b, 5, key="third")

    run = verify()

    assert points_scope(run) == f"points: 1 account(s) with entries after #{mark}"
    assert run.violations == []


def test_a_corrupted_account_touched_since_the_watermark_is_caught():
    a, b = MemberFactory(), MemberFactory()
    earn(a, 10, key="a1")
    earn(b, 10, key="b1")
    verify()
    mark = VerifyWatermark.objects.get(ledger="points")
    corrupt_balance(b)
    earn(b, 5, key="b2")

    run = verify()

    account = PointsAccount.objects.get(member=b)
    assert (BALANCE_SUM, (account.pk, 16, 15)) in [(d, tuple(row)) for d, row in run.violations]
    assert {row[0] for _, row in run.violations} == {account.pk}  # the balance checks name the account
    assert VerifyWatermark.objects.get(ledger="points") == mark  # a failed run leaves the watermark
    assert VerifyWatermark.objects.get(ledger="points").last_entry_id == mark.last_entry_id


def test_an_untouched_corrupted_account_is_left_to_the_full_mode_which_checks_all():
    a, b = MemberFactory(), MemberFactory()
    earn(a, 10, key="a1")
    earn(b, 10, key="b1")
    verify()
    corrupt_balance(a)  # no new entry: an incremental run does not look at a
    earn(b, 5, key="b2")

    assert verify().violations == []
    full = verify(full=True)

    assert points_scope(full) == "points: every account"
    assert BALANCE_SUM in {d for d, _ in full.violations}
    assert {row[0] for _, row in full.violations} == {PointsAccount.objects.get(member=a).pk}


def test_nothing_new_runs_no_account_scoped_check():
    earn(MemberFactory(), 10, key="a1")
    first = verify()

    again = verify()

    assert points_scope(again).startswith("points: 0 account(s)")
    assert again.checks < first.checks


def test_the_lag_leaves_the_newest_entries_to_the_next_run():
    a = MemberFactory()
    earn(a, 10, key="a1")
    with override_settings(VERIFY_LEDGERS_LAG=3600):
        verify()

    assert VerifyWatermark.objects.get(ledger="points").last_entry_id == 0
    assert points_scope(verify()) == "points: 1 account(s) with entries after #0"


def test_the_command_reports_what_it_checked_and_full_finds_what_incremental_skips():
    a = MemberFactory()
    earn(a, 10, key="a1")
    call_command("verify_ledgers", stdout=io.StringIO())
    corrupt_balance(a)

    out = io.StringIO()
    call_command("verify_ledgers", stdout=out)
    assert "points: 0 account(s) with entries after" in out.getvalue()
    with pytest.raises(CommandError, match="violation"):
        call_command("verify_ledgers", "--full", stdout=io.StringIO())
