"""Account state changes that move no value: freezing and unfreezing, with their audit trail."""

from django.db import transaction

from stored_value import ledger
from stored_value.models import FreezeEvent, StoredValueAccount


def stored_value_set_frozen(
    *, member_id: int, frozen: bool, reason: str, actor_id: int
) -> StoredValueAccount:
    """Freeze (no spending; refunds and paid recharges still arrive) or unfreeze, recording who and why.

    Takes the account lock, so a spend in flight finishes first and every
    later one sees the new state.  Setting the state it already has records
    nothing.
    """
    if not reason.strip():
        raise ValueError("a reason is required")
    with transaction.atomic():
        ledger.lock_account(member_id=member_id)
        account = StoredValueAccount.objects.get(member_id=member_id)
        if account.frozen != frozen:
            account.frozen = frozen
            account.frozen_reason = reason[:200] if frozen else ""
            account.save(update_fields=["frozen", "frozen_reason"])
            FreezeEvent.objects.create(account=account, frozen=frozen, reason=reason[:200], actor_id=actor_id)
    return account
