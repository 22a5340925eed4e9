import pytest
from django.db import IntegrityError, connection, transaction

from loyalty.errors import IdempotencyConflict
from stored_value import ledger, services
from stored_value.exceptions import (
    AccountFrozen,
    EntryNotRefundable,
    InsufficientBalance,
    InvalidAmount,
    MemberNotFound,
    RefundTooLarge,
)
from stored_value.models import FreezeEvent, SpendOrder, StoredValueEntry, StoredValuePolicy
from tests.factories import MemberFactory, OperatorFactory, RechargeFactory
from tests.stored_value.helpers import parts, snapshot, spend

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledgers_stay_consistent")]


def set_spend_order(order):
    StoredValuePolicy.objects.update_or_create(pk=1, defaults={"spend_order": order})


@pytest.fixture
def operator(db):
    return OperatorFactory(username="finance")


def test_design_example_one_recharge_1500_get_150_then_spend_1600_leaves_50(member):
    """docs/rules/stored-value.md: 充1500送150 → 1650.00; a 1600.00 bundle leaves 50.00 that is only spendable."""
    RechargeFactory(member=member, amount_fen=150_000, bonus_fen=15_000)
    assert parts(member) == (150_000, 15_000)

    posting = spend(member, 160_000)

    # Proportional split, principal part rounded down (the odd fen comes from the bonus):
    # 160000 × 150000 / 165000 = 145454.54… → 145454 principal, 14546 bonus.
    assert (posting.principal_fen, posting.bonus_fen) == (-145_454, -14_546)
    assert parts(member) == (4_546, 454)
    assert posting.balance_after_fen == 5_000


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (SpendOrder.PROPORTIONAL, (-9_090, -910)),  # 10000 × 100000 / 110000 = 9090.9… → 9090
        (SpendOrder.PRINCIPAL_FIRST, (-10_000, 0)),
        (SpendOrder.BONUS_FIRST, (0, -10_000)),
    ],
)
def test_the_spend_order_policy_decides_the_split(member, order, expected):
    RechargeFactory(member=member, amount_fen=100_000, bonus_fen=10_000)
    set_spend_order(order)

    posting = spend(member, 10_000)

    assert (posting.principal_fen, posting.bonus_fen) == expected


def test_principal_first_takes_the_rest_from_bonus(member):
    RechargeFactory(member=member, amount_fen=3_000, bonus_fen=2_000)
    set_spend_order(SpendOrder.PRINCIPAL_FIRST)

    posting = spend(member, 4_000)

    assert (posting.principal_fen, posting.bonus_fen) == (-3_000, -1_000)
    assert parts(member) == (0, 1_000)


def test_spending_more_than_the_balance_is_refused_and_writes_nothing(member):
    RechargeFactory(member=member, amount_fen=10_000)
    before = snapshot(member)

    with pytest.raises(InsufficientBalance) as refused:
        spend(member, 10_001)

    assert refused.value.code == "insufficient_balance"
    assert refused.value.details == {"balance_fen": 10_000, "requested_fen": 10_001}
    assert snapshot(member) == before


def test_the_whole_balance_can_be_spent_to_the_fen(member):
    RechargeFactory(member=member, amount_fen=9_999, bonus_fen=1)

    spend(member, 10_000)

    assert parts(member) == (0, 0)


@pytest.mark.parametrize("amount", [0, -1, 10**12 + 1, 1.5, "100", True, None])
def test_bad_amounts_are_refused_and_write_nothing(member, amount):
    RechargeFactory(member=member, amount_fen=10_000)
    before = snapshot(member)

    with pytest.raises(InvalidAmount):
        spend(member, amount)

    assert snapshot(member) == before


def test_an_unknown_member_is_refused():
    with pytest.raises(MemberNotFound):
        ledger.stored_value_spend(member_id=987654321, amount_fen=1, idempotency_key="k")


def test_a_replayed_spend_posts_once_and_returns_the_first_result(member):
    RechargeFactory(member=member, amount_fen=10_000)
    first = spend(member, 3_000, key="order-1")

    again = spend(member, 3_000, key="order-1")

    assert again.replayed and again.entry_id == first.entry_id
    assert parts(member) == (7_000, 0)


def test_a_reused_key_with_another_amount_is_a_conflict(member):
    RechargeFactory(member=member, amount_fen=10_000)
    spend(member, 3_000, key="order-1")
    before = snapshot(member)

    with pytest.raises(IdempotencyConflict):
        spend(member, 4_000, key="order-1")

    assert snapshot(member) == before


def test_a_frozen_account_cannot_spend_but_receives_refunds_and_recharges(member, operator):
    RechargeFactory(member=member, amount_fen=10_000, bonus_fen=1_000)
    paid = spend(member, 2_200, key="s")
    services.stored_value_set_frozen(
        member_id=member.pk, frozen=True, reason="lost phone", actor_id=operator.pk
    )
    before = snapshot(member)

    with pytest.raises(AccountFrozen):
        spend(member, 1)
    assert snapshot(member) == before

    ledger.stored_value_refund_spend(member_id=member.pk, entry_id=paid.entry_id, idempotency_key="r")
    RechargeFactory(member=member, amount_fen=500)
    assert parts(member) == (10_500, 1_000)


def test_freezing_records_who_and_why_and_unfreezing_allows_spending_again(member, operator):
    RechargeFactory(member=member, amount_fen=10_000)

    services.stored_value_set_frozen(member_id=member.pk, frozen=True, reason="dispute", actor_id=operator.pk)
    services.stored_value_set_frozen(member_id=member.pk, frozen=True, reason="again", actor_id=operator.pk)
    services.stored_value_set_frozen(
        member_id=member.pk, frozen=False, reason="resolved", actor_id=operator.pk
    )

    assert list(FreezeEvent.objects.order_by("id").values_list("frozen", "reason", "actor")) == [
        (True, "dispute", operator.pk),
        (False, "resolved", operator.pk),
    ]
    spend(member, 100)


def test_a_spend_refund_goes_back_to_the_parts_it_came_from(member):
    RechargeFactory(member=member, amount_fen=150_000, bonus_fen=15_000)
    paid = spend(member, 160_000)

    refund = ledger.stored_value_refund_spend(
        member_id=member.pk, entry_id=paid.entry_id, idempotency_key="r"
    )

    assert (refund.principal_fen, refund.bonus_fen) == (145_454, 14_546)
    assert parts(member) == (150_000, 15_000)


def test_partial_spend_refunds_add_up_exactly_to_the_spend(member):
    RechargeFactory(member=member, amount_fen=100_001, bonus_fen=33_333)
    paid = spend(member, 99_999)
    taken = (-paid.principal_fen, -paid.bonus_fen)

    backs = [
        ledger.stored_value_refund_spend(
            member_id=member.pk, entry_id=paid.entry_id, idempotency_key=f"r{i}", amount_fen=amount
        )
        for i, amount in enumerate([1, 333, 50_000, 49_665])
    ]

    assert (sum(b.principal_fen for b in backs), sum(b.bonus_fen for b in backs)) == taken
    assert parts(member) == (100_001, 33_333)
    with pytest.raises(RefundTooLarge):
        ledger.stored_value_refund_spend(
            member_id=member.pk, entry_id=paid.entry_id, idempotency_key="r9", amount_fen=1
        )


def test_refunding_more_than_is_left_of_the_spend_is_refused(member):
    RechargeFactory(member=member, amount_fen=10_000)
    paid = spend(member, 5_000)
    ledger.stored_value_refund_spend(
        member_id=member.pk, entry_id=paid.entry_id, idempotency_key="r1", amount_fen=3_000
    )
    before = snapshot(member)

    with pytest.raises(RefundTooLarge) as refused:
        ledger.stored_value_refund_spend(
            member_id=member.pk, entry_id=paid.entry_id, idempotency_key="r2", amount_fen=2_001
        )

    assert refused.value.details == {"refundable_fen": 2_000}
    assert snapshot(member) == before


def test_only_a_spend_of_this_member_can_be_refunded(member):
    other = MemberFactory()
    RechargeFactory(member=member, amount_fen=10_000)
    RechargeFactory(member=other, amount_fen=10_000)
    theirs = spend(other, 100)
    recharge_entry = StoredValueEntry.objects.filter(account__member=member, kind="recharge").get()

    for entry_id in (theirs.entry_id, recharge_entry.id, 987654321):
        with pytest.raises(EntryNotRefundable):
            ledger.stored_value_refund_spend(
                member_id=member.pk, entry_id=entry_id, idempotency_key=f"x{entry_id}"
            )
    assert parts(member) == (10_000, 0)


def test_an_adjustment_records_reason_and_operator_and_cannot_make_a_part_negative(member, operator):
    RechargeFactory(member=member, amount_fen=10_000, bonus_fen=500)

    ledger.stored_value_adjust(
        member_id=member.pk,
        principal_fen=-1_000,
        bonus_fen=200,
        reason="till error",
        actor_id=operator.pk,
        idempotency_key="a1",
    )
    before = snapshot(member)
    with pytest.raises(InsufficientBalance):
        ledger.stored_value_adjust(
            member_id=member.pk,
            principal_fen=0,
            bonus_fen=-701,
            reason="x",
            actor_id=operator.pk,
            idempotency_key="a2",
        )

    assert snapshot(member) == before
    entry = StoredValueEntry.objects.get(kind="adjust")
    assert (entry.principal_fen, entry.bonus_fen, entry.memo, entry.actor_id) == (
        -1_000,
        200,
        "till error",
        operator.pk,
    )
    assert parts(member) == (9_000, 700)


def test_crediting_a_recharge_twice_posts_once(member):
    order = RechargeFactory(member=member, amount_fen=150_000, bonus_fen=15_000)

    ledger.stored_value_credit(
        member_id=member.pk, recharge_id=order.pk, principal_fen=150_000, bonus_fen=15_000, reference="again"
    )

    assert parts(member) == (150_000, 15_000)
    assert list(
        StoredValueEntry.objects.order_by("id").values_list("kind", "principal_fen", "bonus_fen")
    ) == [
        ("recharge", 150_000, 0),
        ("bonus", 0, 15_000),
    ]


def test_the_database_refuses_to_change_or_delete_an_entry(member):
    RechargeFactory(member=member, amount_fen=10_000)
    entry = StoredValueEntry.objects.get()

    for sql in (
        "UPDATE stored_value_storedvalueentry SET principal_fen = 1 WHERE id = %s",
        "DELETE FROM stored_value_storedvalueentry WHERE id = %s",
    ):
        with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [entry.id])


def test_the_database_refuses_a_negative_part(member):
    RechargeFactory(member=member, amount_fen=10_000)

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE stored_value_storedvalueaccount SET bonus_fen = -1")


def test_replaying_a_spend_that_emptied_the_account_returns_the_first_result(member):
    RechargeFactory(member=member, amount_fen=5_000)
    first = spend(member, 5_000, key="all-of-it")

    again = spend(member, 5_000, key="all-of-it")

    assert again.replayed and again.entry_id == first.entry_id
    assert parts(member) == (0, 0)
