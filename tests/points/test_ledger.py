import pytest
import time_machine
from django.db import IntegrityError, connection, transaction

from loyalty.errors import IdempotencyConflict
from points import ledger
from points.exceptions import (
    EntryNotReversible,
    InsufficientPoints,
    InvalidPointsAmount,
    MemberNotFound,
    ReversalTooLarge,
)
from points.models import PointsEntry, PointsLot
from tests.helpers import local
from tests.points.helpers import balance, earn, kinds, lots, snapshot, spend

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledgers_stay_consistent")]

JAN, MAR, JUN = local(2027, 1, 31), local(2027, 3, 31), local(2027, 6, 30)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(local(2026, 12, 1, 12), tick=False) as traveller:
        yield traveller


def test_spend_consumes_lots_that_expire_first_then_never_expiring_ones(member):
    earn(member, 100, expires_at=JUN)
    earn(member, 100, expires_at=None)
    earn(member, 100, expires_at=JAN)
    earn(member, 100, expires_at=MAR)

    spend(member, 250)

    assert lots(member) == [(100, 50), (100, 100), (100, 0), (100, 0)]
    assert balance(member) == 150


def test_a_spend_over_more_lots_than_are_listed_as_parameters_takes_from_each_in_expiry_order(member):
    months = [local(2027, m, 1) for m in (6, 2, 5, 1, 4, 3)]
    for k, expires_at in enumerate(months):
        earn(member, 10, expires_at=expires_at, key=f"lot-{k}")

    spend(member, 55)

    # Spent Jan, Feb, Mar, Apr, May in full and half of Jun.
    assert lots(member) == [(10, 5), (10, 0), (10, 0), (10, 0), (10, 0), (10, 0)]
    assert balance(member) == 5


def test_a_refused_spend_without_a_savepoint_dooms_the_callers_transaction(member):
    earn(member, 10)
    before = snapshot(member)

    with transaction.atomic():
        with pytest.raises(InsufficientPoints):
            ledger.points_spend(member_id=member.pk, amount=11, idempotency_key="too-much", savepoint=False)
        assert transaction.get_rollback()

    assert snapshot(member) == before


def test_lots_expiring_together_are_spent_oldest_first(member):
    earn(member, 10, expires_at=JAN, key="a")
    earn(member, 10, expires_at=JAN, key="b")

    spend(member, 15)

    assert lots(member) == [(10, 0), (10, 5)]


def test_replaying_a_key_returns_the_first_posting_and_moves_nothing(member):
    earn(member, 100)
    first = spend(member, 30, key="order-1")

    again = spend(member, 30, key="order-1")

    assert again.replayed and again.entry_id == first.entry_id
    assert balance(member) == 70


def test_the_same_key_with_other_parameters_is_a_conflict_and_changes_nothing(member):
    earn(member, 100)
    spend(member, 30, key="order-1")
    before = snapshot(member)

    with pytest.raises(IdempotencyConflict):
        spend(member, 31, key="order-1")

    assert snapshot(member) == before


def test_a_replay_still_returns_the_first_result_after_the_balance_fell(member):
    earn(member, 100)
    spend(member, 100, key="k")

    assert spend(member, 100, key="k").replayed


def test_spending_more_than_the_balance_is_refused_and_writes_nothing(member):
    earn(member, 100)
    before = snapshot(member)

    with pytest.raises(InsufficientPoints) as refused:
        spend(member, 101)

    assert refused.value.details == {"balance": 100, "requested": 101}
    assert snapshot(member) == before


@pytest.mark.parametrize("amount", [0, -5, 10**12 + 1, 1.5, "10", True])
def test_bad_amounts_are_refused(member, amount):
    earn(member, 100)
    before = snapshot(member)

    with pytest.raises(InvalidPointsAmount):
        ledger.points_spend(member_id=member.pk, amount=amount, idempotency_key="bad")
    with pytest.raises(InvalidPointsAmount):
        ledger.points_earn(
            member_id=member.pk, amount=amount, idempotency_key="bad", source="x", expires_at=None
        )

    assert snapshot(member) == before


def test_the_largest_amount_is_accepted(member):
    earn(member, 10**12)
    assert balance(member) == 10**12


def test_an_unknown_member_is_refused():
    with pytest.raises(MemberNotFound):
        ledger.points_earn(member_id=999999, amount=1, idempotency_key="x", source="x", expires_at=None)


def test_points_expiring_exactly_at_local_midnight_are_usable_until_then_and_gone_at_it(member, _clock):
    midnight = local(2026, 12, 2)
    earn(member, 50, expires_at=midnight)

    _clock.move_to(local(2026, 12, 1, 23, 59, 59, 999999))
    spend(member, 10, key="just-before")
    _clock.move_to(midnight)

    with pytest.raises(InsufficientPoints):
        spend(member, 10, key="at-midnight")
    assert balance(member) == 40  # the refused spend rolled back the inline expiry too
    assert ledger.points_expire_due() == 1
    assert balance(member) == 0
    assert kinds(member)[-1] == ("expire", -40)


def test_a_spend_expires_due_lots_before_taking_from_the_rest(member, _clock):
    earn(member, 30, expires_at=local(2026, 12, 5))
    earn(member, 100, expires_at=None)
    _clock.move_to(local(2026, 12, 6))

    spend(member, 50)

    assert kinds(member)[-2:] == [("expire", -30), ("spend", -50)]
    assert balance(member) == 50


def test_reversing_a_spend_restores_exactly_the_lots_it_consumed(member):
    earn(member, 100, expires_at=JAN)
    earn(member, 100, expires_at=MAR)
    earn(member, 100, expires_at=None)
    spent = spend(member, 150)
    spend(member, 20, key="later")  # takes from the MAR lot after the first spend

    ledger.points_reverse(member_id=member.pk, entry_id=spent.entry_id, idempotency_key="refund")

    assert lots(member) == [(100, 100), (100, 80), (100, 100)]
    assert balance(member) == 280


def test_a_partial_reversal_gives_back_to_the_longest_lasting_lots_first(member):
    earn(member, 100, expires_at=JAN)
    earn(member, 100, expires_at=MAR)
    spent = spend(member, 150)

    ledger.points_reverse(member_id=member.pk, entry_id=spent.entry_id, amount=40, idempotency_key="r1")
    ledger.points_reverse(member_id=member.pk, entry_id=spent.entry_id, amount=40, idempotency_key="r2")

    assert lots(member) == [(100, 30), (100, 100)]
    with pytest.raises(ReversalTooLarge) as too_much:
        ledger.points_reverse(member_id=member.pk, entry_id=spent.entry_id, amount=71, idempotency_key="r3")
    assert too_much.value.details == {"reversible": 70}
    ledger.points_reverse(member_id=member.pk, entry_id=spent.entry_id, amount=70, idempotency_key="r3")
    assert lots(member) == [(100, 100), (100, 100)]


def test_a_restored_lot_that_expired_meanwhile_is_expired_again_at_once(member, _clock):
    earn(member, 100, expires_at=local(2026, 12, 10))
    earn(member, 100, expires_at=None)
    spent = spend(member, 150)
    _clock.move_to(local(2026, 12, 11))

    ledger.points_reverse(member_id=member.pk, entry_id=spent.entry_id, idempotency_key="refund")

    assert kinds(member)[-2:] == [("reverse", 150), ("expire", -100)]
    assert balance(member) == 100
    assert lots(member) == [(100, 0), (100, 100)]


def test_reversing_an_earn_claws_back_from_that_lot_first_then_the_soonest_expiring(member):
    earn(member, 100, expires_at=MAR, key="first")
    earned = earn(member, 50, expires_at=JUN, key="order")
    earn(member, 100, expires_at=JAN, key="third")
    spend(member, 30)  # takes from the JAN lot

    ledger.points_reverse(member_id=member.pk, entry_id=earned.entry_id, idempotency_key="refund")

    assert lots(member) == [(100, 100), (50, 0), (100, 70)]
    ledger.points_reverse(member_id=member.pk, entry_id=earned.entry_id, idempotency_key="refund")  # replay
    assert balance(member) == 170


def test_a_clawback_beyond_the_lots_leaves_a_debt_that_blocks_spending_and_is_repaid_first(member):
    earned = earn(member, 100, key="order")
    spend(member, 80)

    ledger.points_reverse(member_id=member.pk, entry_id=earned.entry_id, idempotency_key="refund")

    assert balance(member) == -80
    with pytest.raises(InsufficientPoints):
        spend(member, 1)
    earn(member, 50, key="next")
    assert balance(member) == -30
    assert lots(member) == [(100, 0), (50, 0)]
    earn(member, 50, key="after")
    assert balance(member) == 20
    assert lots(member)[-1] == (50, 20)
    spend(member, 20, key="now-possible")


def test_giving_back_a_spend_while_in_debt_repays_the_debt_first(member):
    earn(member, 100, key="a", expires_at=None)
    spent = spend(member, 100)
    earned = earn(member, 40, key="b")
    ledger.points_reverse(member_id=member.pk, entry_id=earned.entry_id, idempotency_key="clawback")
    spend_back_debt = balance(member)
    assert spend_back_debt == 0
    earned2 = earn(member, 10, key="c")
    spend(member, 10, key="s2")
    ledger.points_reverse(member_id=member.pk, entry_id=earned2.entry_id, idempotency_key="claw2")
    assert balance(member) == -10

    ledger.points_reverse(member_id=member.pk, entry_id=spent.entry_id, idempotency_key="give-back")

    assert balance(member) == 90
    assert sum(remaining for _, remaining in lots(member)) == 90


def test_only_earns_and_spends_of_the_member_can_be_reversed(member):
    from tests.factories import MemberFactory

    other = MemberFactory()
    theirs = earn(other, 10)
    earn(member, 100)
    adjusted = ledger.points_adjust(
        member_id=member.pk, amount=5, reason="goodwill", actor_id=None, idempotency_key="adj"
    )

    with pytest.raises(EntryNotReversible):
        ledger.points_reverse(member_id=member.pk, entry_id=theirs.entry_id, idempotency_key="x")
    with pytest.raises(EntryNotReversible):
        ledger.points_reverse(member_id=member.pk, entry_id=adjusted.entry_id, idempotency_key="y")


def test_a_negative_adjustment_is_a_debit_with_a_reason(member):
    earn(member, 100)

    ledger.points_adjust(
        member_id=member.pk, amount=-30, reason="duplicate grant", actor_id=None, idempotency_key="adj"
    )

    entry = PointsEntry.objects.get(kind="adjust")
    assert (entry.amount, entry.memo, entry.balance_after) == (-30, "duplicate grant", 70)
    with pytest.raises(InsufficientPoints):
        ledger.points_adjust(
            member_id=member.pk, amount=-71, reason="x", actor_id=None, idempotency_key="adj2"
        )


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_to_change_or_delete_ledger_rows(member):
    earn(member, 100)
    spend(member, 10)
    entry = PointsEntry.objects.filter(kind="spend").first()

    for sql in (
        f"UPDATE points_pointsentry SET amount = 1 WHERE id = {entry.id}",
        f"DELETE FROM points_pointsentry WHERE id = {entry.id}",
        f"UPDATE points_pointsallocation SET amount = 1 WHERE entry_id = {entry.id}",
        f"DELETE FROM points_pointsallocation WHERE entry_id = {entry.id}",
    ):
        with (
            pytest.raises(IntegrityError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(sql)
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsLot.objects.update(remaining=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsLot.objects.update(remaining=101)


def test_replaying_a_spend_that_emptied_the_account_returns_the_first_result(member):
    earn(member, 100, expires_at=None)
    first = spend(member, 100, key="all-of-it")

    again = spend(member, 100, key="all-of-it")

    assert again.replayed and again.entry_id == first.entry_id
    assert balance(member) == 0
