"""Reads for the apps above: a store or staff code from a QR scene to the store and staff it names
(lenient, for attribution), and for the till and the clerk page (strict: a code to its row, or a stable
refusal)."""

from __future__ import annotations

from dataclasses import dataclass

from stores import sql
from stores.exceptions import StaffNotFound, StaffNotInStore, StoreClosed, StoreNotFound
from stores.models import Staff, StaffAssignment, Store, StoreStatus


@dataclass(frozen=True)
class Attribution:
    """Where something happened (``store_id``) and who brought it (``staff_id``); None when unknown."""

    store_id: int | None = None
    staff_id: int | None = None
    staff_code: str = ""

    @property
    def store_given(self) -> bool:
        return self.store_id is not None


NONE = Attribution()


def attribution(*, store_code: str = "", staff_code: str = "") -> Attribution:
    """The store and staff member a store or staff QR code names, for attribution only.

    Lenient on purpose (docs/rules/stores.md): a code that names no store, a
    store closed for good, or no active staff member is ignored, never
    refused, because a printed QR code outlives the store or the clerk on it
    and must not stop a member registering, recharging or claiming a card.
    A temporarily closed store still counts.  Without a store code, a staff
    member who works in exactly one store brings that store.  The caller
    validates the codes' shape (``stores.fields``): malformed input is refused
    there, with a 400.
    """
    store = (
        Store.objects.filter(code=store_code).exclude(status=StoreStatus.CLOSED).values("pk").first()
        if store_code
        else None
    )
    staff = (
        Staff.objects.filter(code=staff_code, active=True).values("pk", "code").first()
        if staff_code
        else None
    )
    store_id = store["pk"] if store else None
    if store_id is None and staff is not None and not store_code:
        homes = list(
            StaffAssignment.objects.filter(staff_id=staff["pk"])
            .exclude(store__status=StoreStatus.CLOSED)
            .values_list("store_id", flat=True)[:2]
        )
        store_id = homes[0] if len(homes) == 1 else None
    return Attribution(
        store_id=store_id,
        staff_id=staff["pk"] if staff else None,
        staff_code=staff["code"] if staff else "",
    )


def store_choices(*, store_ids=None) -> list[tuple[int, str]]:
    """Stores by id and name, as a filter offers them (only ``store_ids`` when given)."""
    stores = Store.objects.order_by("code")
    if store_ids is not None:
        stores = stores.filter(pk__in=store_ids)
    return list(stores.values_list("pk", "name"))


def staff_names(codes) -> dict[str, str]:
    """``{工号: name}`` of the staff members among ``codes`` (a card's staff tag is one when it is known)."""
    return dict(Staff.objects.filter(code__in=set(codes)).values_list("code", "name"))


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
