from stored_value import ledger
from stored_value.models import RechargeOrder, RechargePlan, StoredValueAccount, StoredValueEntry

_recharges = iter(range(1, 10**9))


def credit(member, principal_fen, bonus_fen=0):
    """A credited recharge as the payment notification would leave it (without the payment)."""
    plan = RechargePlan.objects.get_or_create(name="test plan", defaults={"kind": "open", "max_fen": 10**9})[
        0
    ]
    order = RechargeOrder.objects.create(
        member=member, plan=plan, amount_fen=principal_fen, bonus_fen=bonus_fen, status="credited"
    )
    ledger.stored_value_credit(
        member_id=member.pk,
        recharge_id=order.pk,
        principal_fen=principal_fen,
        bonus_fen=bonus_fen,
        reference=f"test-{order.pk}",
    )
    return order


def spend(member, amount_fen, *, key=None):
    return ledger.stored_value_spend(
        member_id=member.pk, amount_fen=amount_fen, idempotency_key=key or f"spend-{next(_recharges)}"
    )


def parts(member) -> tuple[int, int]:
    account = StoredValueAccount.objects.filter(member=member).first()
    return (account.principal_fen, account.bonus_fen) if account else (0, 0)


def snapshot(member) -> tuple:
    return (
        parts(member),
        list(StoredValueEntry.objects.filter(account__member=member).values_list("id", flat=True)),
        list(RechargeOrder.objects.filter(member=member).values_list("id", "status", "refunded_fen")),
    )
