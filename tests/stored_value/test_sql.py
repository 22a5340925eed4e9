"""The stored-value ledger's raw statements (stored_value/sql.py) read and write what the ORM would."""

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from stored_value import ledger, sql
from stored_value.models import SpendOrder, StoredValueAccount, StoredValueEntry, StoredValuePolicy
from tests.factories import MemberFactory, RechargeFactory
from tests.stored_value.helpers import spend

pytestmark = pytest.mark.django_db


def _member_with_a_refunded_spend():
    member = MemberFactory()
    RechargeFactory(member=member, amount_fen=10_000, bonus_fen=1_000)
    spent = spend(member, 3_300, key="s1")
    ledger.stored_value_refund_spend(
        member_id=member.pk, entry_id=spent.entry_id, idempotency_key="r1", amount_fen=700
    )
    return member, StoredValueAccount.objects.get(member=member)


def test_the_lock_reads_the_orms_account_and_the_merchants_spend_order():
    member, account = _member_with_a_refunded_spend()
    with transaction.atomic(), connection.cursor() as cur:
        policy = StoredValuePolicy.objects.order_by("id").first()
        order = policy.spend_order if policy else SpendOrder.PROPORTIONAL
        assert sql.lock_account(cur, member.pk, SpendOrder.PROPORTIONAL) == sql.AccountRow(
            account.id, account.principal_fen, account.bonus_fen, account.frozen, order
        )
        assert sql.account_id(cur, member.pk) == account.id
        other = MemberFactory()
        assert sql.lock_account(cur, other.pk, "fallback") is None
        sql.create_account(cur, other.pk)
        sql.create_account(cur, other.pk)
        created = StoredValueAccount.objects.get(member=other)
        assert (created.principal_fen, created.bonus_fen, created.frozen, created.frozen_reason) == (
            0,
            0,
            False,
            "",
        )
        assert sql.lock_account(cur, other.pk, SpendOrder.PROPORTIONAL).id == created.id


def test_entries_by_key_and_the_spend_to_refund_are_the_orms():
    member, account = _member_with_a_refunded_spend()
    with connection.cursor() as cur:
        for entry in StoredValueEntry.objects.filter(account=account):
            assert sql.entry_by_key(cur, account.id, entry.idempotency_key) == sql.KeyedEntry(
                entry.id,
                entry.request_hash,
                entry.principal_fen,
                entry.bonus_fen,
                entry.principal_after_fen,
                entry.bonus_after_fen,
            )
            back = StoredValueEntry.objects.filter(reverses=entry).aggregate(
                p=Sum("principal_fen"), b=Sum("bonus_fen")
            )
            assert sql.spend_to_refund(cur, account.id, entry.id) == sql.SpendToRefund(
                entry.kind,
                -entry.principal_fen,
                -entry.bonus_fen,
                entry.source,
                entry.reference,
                back["p"] or 0,
                back["b"] or 0,
            )
        assert sql.entry_by_key(cur, account.id, "nope") is None
        assert sql.spend_to_refund(cur, account.id + 1_000_000, 1) is None


def test_a_posting_writes_the_entry_and_the_balances_the_orm_reads_back():
    member, account = _member_with_a_refunded_spend()
    now = timezone.now()
    principal, bonus = account.principal_fen - 100, account.bonus_fen - 20
    with transaction.atomic(), connection.cursor() as cur:
        entry_id = sql.post(
            cur,
            [
                account.id,
                "adjust",
                -100,
                -20,
                principal,
                bonus,
                "src",
                "ref",
                "memo",
                "k",
                "h",
                None,
                None,
                None,
                now,
            ],
        )
    entry = StoredValueEntry.objects.get(pk=entry_id)
    assert (
        entry.account_id,
        entry.kind,
        entry.principal_fen,
        entry.bonus_fen,
        entry.principal_after_fen,
        entry.bonus_after_fen,
        entry.source,
        entry.reference,
        entry.memo,
        entry.idempotency_key,
        entry.request_hash,
        entry.reverses_id,
        entry.recharge_id,
        entry.actor_id,
        entry.created_at,
    ) == (
        account.id,
        "adjust",
        -100,
        -20,
        principal,
        bonus,
        "src",
        "ref",
        "memo",
        "k",
        "h",
        None,
        None,
        None,
        now,
    )
    account.refresh_from_db()
    assert (account.principal_fen, account.bonus_fen) == (principal, bonus)


def test_the_balance_and_the_pending_recharges_are_the_orms():
    from datetime import timedelta

    from django.conf import settings

    from stored_value.models import RechargeOrder
    from stored_value.selectors import liability_by_day

    member, account = _member_with_a_refunded_spend()
    assert sql.balance(member.pk) == sql.Balance(account.principal_fen, account.bonus_fen, account.frozen)
    assert sql.balance(MemberFactory().pk) is None
    order = RechargeFactory(member=member, amount_fen=500)
    RechargeOrder.objects.filter(pk=order.pk).update(status="created")
    since = timezone.now() - timedelta(hours=1)
    account.refresh_from_db()
    pending = sum(
        o.amount_fen + o.bonus_fen
        for o in RechargeOrder.objects.filter(member=member, status="created", created_at__gt=since)
    )
    assert sql.balance_and_pending(member.pk, since) == sql.BalanceAndPending(
        account.principal_fen + account.bonus_fen, account.frozen, pending
    )
    assert pending == 500
    assert sql.balance_and_pending(MemberFactory().pk, since) == (0, False, 0)
    today = timezone.localdate()
    days = sql.liability_by_day(today - timedelta(days=1), today, settings.TIME_ZONE)
    totals = StoredValueEntry.objects.aggregate(p=Sum("principal_fen"), b=Sum("bonus_fen"))
    assert days[-1] == sql.LiabilityDay(today, totals["p"], totals["b"])
    assert days[0] == sql.LiabilityDay(today - timedelta(days=1), 0, 0)
    assert liability_by_day(start=today, end=today) == [
        {"day": today, "principal_fen": totals["p"], "bonus_fen": totals["b"]}
    ]
