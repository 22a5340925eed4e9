"""Which stores a signed-in back-office user may see and act on: decided here, once.

``None`` means unscoped (a superuser, or a merchant operator with no Staff
record: they act on every store); otherwise the ids of the stores the user's
Staff record is assigned to (an inactive staff member: none).
"""

from __future__ import annotations

from stores.models import StaffAssignment


def user_store_ids(user) -> frozenset[int] | None:
    if user is None or not user.is_authenticated:
        return frozenset()
    if user.is_superuser:
        return None
    staff = getattr(user, "staff", None)  # the reverse one-to-one: missing is an AttributeError
    if staff is None:
        return None
    if not staff.active:
        return frozenset()
    return frozenset(StaffAssignment.objects.filter(staff=staff).values_list("store_id", flat=True))
