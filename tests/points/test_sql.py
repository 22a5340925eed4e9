"""The points ledger's raw statements (points/sql.py) read and write what the ORM would on the same data."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from points import ledger, sql
from points.models import PointsAccount, PointsAllocation, PointsEntry, PointsLot
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

SPENDING_ORDER = (F("expires_at").asc(nulls_last=True), "earned_at", "id")


def _member_with_lots():
    """A member with lots expiring at different times (one never, one already past due)."""
    member = MemberFactory()
    now = timezone.now()
    for n, expires in enumerate(
        [now + timedelta(days=30), None, now + timedelta(days=2), now + timedelta(days=90)]
    ):
        ledger.points_earn(
            member_id=member.pk,
            amount=10 * (n + 1),
            idempotency_key=f"e{n}",
            source="test",
            expires_at=expires,
        )
    ledger.points_spend(member_id=member.pk, amount=15, idempotency_key="s1")
    lot = PointsLot.objects.filter(account__member=member, remaining__gt=0).order_by("id").last()
    PointsLot.objects.filter(pk=lot.pk).update(
        expires_at=now - timedelta(hours=1)
    )  # past due, not expired yet
    return member, PointsAccount.objects.get(member=member)


def _lots(queryset):
    return [sql.Lot(lot.id, lot.remaining, lot.expires_at) for lot in queryset]


def test_the_account_lock_reads_the_orms_row_and_none_without_an_account():
    member, account = _member_with_lots()
    with transaction.atomic(), connection.cursor() as cur:
        assert sql.lock_account(cur, member.pk) == sql.AccountRow(account.id, account.balance)
        assert sql.account_id(cur, member.pk) == account.id
        other = MemberFactory()
        assert sql.lock_account(cur, other.pk) is None
        sql.create_account(cur, other.pk)
        created = PointsAccount.objects.get(member=other)
        assert sql.lock_account(cur, other.pk) == (created.id, 0)
        sql.create_account(cur, other.pk)  # a second time: nothing
        assert PointsAccount.objects.filter(member=other).count() == 1


def test_open_lots_and_lots_to_spend_are_the_orms_lots_in_spending_order():
    member, account = _member_with_lots()
    now = timezone.now()
    open_lots = PointsLot.objects.filter(account=account, remaining__gt=0).order_by(*SPENDING_ORDER)
    with connection.cursor() as cur:
        assert sql.open_lots(cur, account.id) == _lots(open_lots)
        for amount in (1, 20, 25, 1_000):
            due = [lot for lot in open_lots if lot.expires_at and lot.expires_at <= now]
            wanted, covered = [], 0
            for lot in open_lots:
                if lot in due:
                    wanted.append(lot)
                elif covered < amount:
                    wanted.append(lot)
                    covered += lot.remaining
            assert sql.lots_to_spend(cur, account.id, now, amount) == _lots(wanted), amount


def test_entries_by_key_and_the_original_of_a_reversal_are_the_orms():
    member, account = _member_with_lots()
    ledger.points_reverse(
        member_id=member.pk,
        entry_id=PointsEntry.objects.get(account=account, idempotency_key="s1").pk,
        idempotency_key="r1",
        amount=5,
    )
    with connection.cursor() as cur:
        for entry in PointsEntry.objects.filter(account=account):
            assert sql.entry_by_key(cur, account.id, entry.idempotency_key) == sql.KeyedEntry(
                entry.id, entry.request_hash, entry.amount, entry.balance_after
            )
            lot = PointsLot.objects.filter(entry=entry).first()
            reversed_total = sum(abs(r.amount) for r in PointsEntry.objects.filter(reverses=entry))
            assert sql.original_entry(cur, account.id, entry.id) == sql.OriginalEntry(
                entry.kind, entry.amount, entry.source, entry.reference, lot and lot.id, reversed_total
            )
        assert sql.entry_by_key(cur, account.id, "nope") is None
        assert sql.original_entry(cur, account.id + 1_000_000, 1) is None
        earn = PointsEntry.objects.get(account=account, idempotency_key="e1")
        assert sql.entry_id_by_key(cur, account.id, "e1", "earn") == earn.id
        assert sql.entry_id_by_key(cur, account.id, "e1", "spend") is None


def test_the_lots_of_a_spend_are_what_it_took_less_what_reversals_gave_back():
    member, account = _member_with_lots()
    spend = PointsEntry.objects.get(account=account, idempotency_key="s1")
    ledger.points_reverse(member_id=member.pk, entry_id=spend.pk, idempotency_key="r1", amount=4)
    reversals = PointsEntry.objects.filter(reverses=spend)
    expected = []
    for lot_id in (
        PointsAllocation.objects.filter(Q(entry=spend) | Q(entry__in=reversals))
        .values_list("lot_id", flat=True)
        .distinct()
    ):
        lot = PointsLot.objects.get(pk=lot_id)
        took = sum(a.amount for a in PointsAllocation.objects.filter(entry=spend, lot=lot))
        back = sum(
            a.amount for a in PointsAllocation.objects.filter(entry__in=reversals, lot=lot, amount__lt=0)
        )
        expected.append(sql.SpendLot(lot.id, lot.expires_at, lot.earned_at, lot.remaining, took + back))
    with connection.cursor() as cur:
        assert sorted(sql.spend_lots(cur, spend.id)) == sorted(expected)


@pytest.mark.parametrize("allocations", [0, 2, sql.LISTED_ALLOCATIONS + 2])
def test_a_posting_writes_the_entry_balance_allocations_and_lot_the_orm_reads_back(allocations):
    member, account = _member_with_lots()
    lots = list(PointsLot.objects.filter(account=account, remaining__gt=1).order_by("id"))
    taken = [(lot.id, 1) for lot in (lots * 3)[:allocations]]
    now = timezone.now()
    new_lot = allocations == 0
    statement = sql.post_statement(
        len(taken) if len(taken) <= sql.LISTED_ALLOCATIONS else -1, new_lot, new_lot
    )
    amount = 7 if new_lot else -len(taken)
    params = [
        account.id,
        "adjust",
        amount,
        account.balance + amount,
        "src",
        "ref",
        "memo",
        "k",
        "h",
        None,
        None,
        now,
    ]
    if len(taken) > sql.LISTED_ALLOCATIONS:
        params += [[lot_id for lot_id, _ in taken], [n for _, n in taken]]
    else:
        params += [v for pair in taken for v in pair]
    if new_lot:
        params += [7, 5, "src", now, None, 2]
    with transaction.atomic(), connection.cursor() as cur:
        entry_id = sql.post(cur, statement, params)
    entry = PointsEntry.objects.get(pk=entry_id)
    assert (entry.account_id, entry.kind, entry.amount, entry.balance_after, entry.idempotency_key) == (
        account.id,
        "adjust",
        amount,
        account.balance + amount,
        "k",
    )
    assert PointsAccount.objects.get(pk=account.id).balance == account.balance + amount
    remaining = {lot.id: lot.remaining for lot in lots}
    for lot_id, n in taken:
        remaining[lot_id] -= n
    assert {lot.id: lot.remaining for lot in PointsLot.objects.filter(pk__in=remaining)} == remaining
    allocated = sorted(PointsAllocation.objects.filter(entry=entry).values_list("lot_id", "amount"))
    if new_lot:
        lot = PointsLot.objects.get(entry=entry)
        assert (lot.amount, lot.remaining, lot.source, lot.expires_at) == (7, 5, "src", None)
        assert allocated == [(lot.id, 2)]
    else:
        assert allocated == sorted(taken)


def test_the_one_statement_earn_writes_what_the_orm_reads_back_and_repays_a_debt_first():
    member, account = _member_with_lots()
    PointsAccount.objects.filter(pk=account.pk).update(balance=-3)  # a debt
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cur:
        row = sql.earn(cur, [member.pk, 10, "src", "ref", "memo", "ek", "h", now, "src", now, None])
        assert sql.earn(cur, [MemberFactory().pk, 10, "s", "", "", "k2", "", now, "s", now, None]) is None
    entry = PointsEntry.objects.get(pk=row.entry_id)
    assert row == sql.EarnRow(entry.id, PointsAccount.objects.get(pk=account.pk).balance) == (entry.id, 7)
    assert (entry.kind, entry.amount, entry.balance_after, entry.idempotency_key) == ("earn", 10, 7, "ek")
    lot = PointsLot.objects.get(entry=entry)
    assert (lot.amount, lot.remaining) == (10, 7)
    assert list(PointsAllocation.objects.filter(entry=entry).values_list("lot_id", "amount")) == [(lot.id, 3)]


def test_the_expiry_job_statements_pick_and_expire_what_the_orm_finds_past_due():
    member, account = _member_with_lots()
    MemberFactory()  # an account-less member and, below, an account with nothing due
    ledger.points_earn(
        member_id=MemberFactory().pk, amount=5, idempotency_key="x", source="t", expires_at=None
    )
    now = timezone.now()
    due = PointsLot.objects.filter(remaining__gt=0, expires_at__lte=now)
    due_accounts = sorted(set(due.values_list("account_id", flat=True)))
    due_lots = {lot.id: lot.remaining for lot in due}
    balance = PointsAccount.objects.get(pk=account.pk).balance
    with transaction.atomic(), connection.cursor() as cur:
        ids = sql.pick_expiry_chunk(cur, 0, now, 200)
        assert ids == due_accounts == [account.id]
        assert sql.expire_chunk(cur, ids, now, "expire:t:") == 1
    entry = PointsEntry.objects.get(idempotency_key=f"expire:t:{account.id}")
    assert (entry.kind, entry.amount, entry.source) == ("expire", -sum(due_lots.values()), "expiry")
    assert (
        entry.balance_after
        == PointsAccount.objects.get(pk=account.pk).balance
        == balance - sum(due_lots.values())
    )
    assert dict(PointsAllocation.objects.filter(entry=entry).values_list("lot_id", "amount")) == due_lots
    assert not PointsLot.objects.filter(remaining__gt=0, expires_at__lte=now).exists()


def test_the_usable_balance_is_the_orms_balance_less_the_lots_past_due():
    from points.selectors import points_balance

    member, account = _member_with_lots()
    assert sql.usable_balance(member.pk, timezone.now()) == points_balance(member_id=member.pk)["balance"]
    assert sql.usable_balance(member.pk, timezone.now()) < account.balance
    assert sql.usable_balance(MemberFactory().pk, timezone.now()) is None


def test_the_expiring_points_per_account_are_the_orms():
    from django.db.models import Min, Sum

    from members.models import Member

    member, account = _member_with_lots()
    closed, _ = _member_with_lots()
    Member.objects.filter(pk=closed.pk).update(closed_at=timezone.now())
    now = timezone.now()
    end = now + timedelta(days=60)
    expected = [
        sql.ExpiringPoints(row["account_id"], row["account__member_id"], row["points"], row["soonest"])
        for row in PointsLot.objects.filter(
            remaining__gt=0, expires_at__gt=now, expires_at__lte=end, account__member__closed_at__isnull=True
        )
        .values("account_id", "account__member_id")
        .annotate(points=Sum("remaining"), soonest=Min("expires_at"))
        .order_by("account_id")
    ]
    assert sql.expiring(now, end, 0, 100) == expected
    assert [row.member_id for row in expected] == [member.pk]
