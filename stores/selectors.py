"""Reads of stores and staff for the till and the clerk page: a code to its row, or a stable refusal."""

from __future__ import annotations

from stores import sql
from stores.exceptions import StaffNotFound, StaffNotInStore, StoreClosed, StoreNotFound
from stores.models import Staff, StaffAssignment, Store, StoreStatus


def open_store(*, code: str) -> Store:
    """The store of ``code`` if it is open: unknown is ``store_not_found``, paused or closed ``store_closed``."""
    row = sql.store_by_code(code) if code else None  # raw: every till call naming a store reads it
    store = None if row is None else Store(id=row.id, code=row.code, name=row.name, status=row.status)
    if store is None:
        raise StoreNotFound(details={"store_code": code})
    if store.status != StoreStatus.OPEN:
        raise StoreClosed(details={"store_code": code, "status": store.status})
    return store


def store_staff(*, store: Store, code: str) -> Staff:
    """The active staff member of ``code`` who works in ``store`` (any role)."""
    staff = Staff.objects.filter(code=code, active=True).first() if code else None
    if staff is None:
        raise StaffNotFound(details={"staff_code": code})
    if not StaffAssignment.objects.filter(staff=staff, store=store).exists():
        raise StaffNotInStore(details={"staff_code": code, "store_code": store.code})
    return staff


def staff_of_user(user) -> Staff | None:
    """The active Staff record of a signed-in user, if any."""
    if user is None or not user.is_authenticated:
        return None
    return Staff.objects.filter(user=user, active=True).first()


def stores_of_staff(staff: Staff) -> list[Store]:
    """The open stores a staff member works in, by code."""
    return list(
        Store.objects.filter(assignments__staff=staff, status=StoreStatus.OPEN).order_by("code").distinct()
    )
