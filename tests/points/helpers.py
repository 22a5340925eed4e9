from points import ledger
from points.models import PointsAccount, PointsEntry, PointsLot


def earn(member, amount, *, key=None, expires_at=None, source="test"):
    return ledger.points_earn(
        member_id=member.pk,
        amount=amount,
        idempotency_key=key or f"earn-{amount}-{expires_at}",
        source=source,
        expires_at=expires_at,
    )


def spend(member, amount, *, key=None):
    return ledger.points_spend(member_id=member.pk, amount=amount, idempotency_key=key or f"spend-{amount}")


def balance(member) -> int:
    return PointsAccount.objects.get(member=member).balance


def lots(member) -> list[tuple[int, int]]:
    """(amount, remaining) of every lot, oldest first."""
    return list(
        PointsLot.objects.filter(account__member=member).order_by("id").values_list("amount", "remaining")
    )


def kinds(member) -> list[tuple[str, int]]:
    return list(
        PointsEntry.objects.filter(account__member=member).order_by("id").values_list("kind", "amount")
    )


def snapshot(member) -> tuple:
    """Everything a failed posting must leave untouched."""
    return (
        list(PointsAccount.objects.filter(member=member).values_list("balance", flat=True)),
        list(PointsEntry.objects.filter(account__member=member).order_by("id").values_list("id", flat=True)),
        lots(member),
    )
