from stored_value import ledger
from stored_value.models import RechargeOrder, StoredValueAccount, StoredValueEntry

_recharges = iter(range(1, 10**9))


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
        list(
            StoredValueEntry.objects.filter(account__member=member)
            .order_by("id")
            .values_list("id", flat=True)
        ),
        list(
            RechargeOrder.objects.filter(member=member)
            .order_by("id")
            .values_list("id", "status", "refunded_fen")
        ),
    )
