"""Stores, staff and clerks for the counter's tests."""

from itertools import count

from django.contrib.auth.models import User

from stored_value import ledger
from stores.models import Staff, StaffAssignment, Store

_n = count(1)


def store(code=None, *, status="open") -> Store:
    n = next(_n)
    return Store.objects.create(code=code or f"S-{n:03d}", name=f"门店{n}", status=status)


def staff(*stores, code=None, role="clerk", user=True, active=True) -> Staff:
    n = next(_n)
    code = code or f"E{n:03d}"
    account = User.objects.create_user(username=f"clerk-{code}", password="pw-" + code) if user else None
    person = Staff.objects.create(code=code, name=f"店员{n}", user=account, active=active)
    for s in stores:
        StaffAssignment.objects.create(staff=person, store=s, role=role)
    return person


def top_up(member, fen: int) -> None:
    """Give the member stored value (an operator's adjustment: no recharge plan needed)."""
    operator = User.objects.get_or_create(username="top-up-operator")[0]
    ledger.stored_value_adjust(
        member_id=member.pk,
        principal_fen=fen,
        bonus_fen=0,
        reason="test",
        actor_id=operator.pk,
        idempotency_key=f"top-up:{next(_n)}",
    )
