"""The demo's three stores, their people, and the share of the year that happened at their counters.

Three tea shops with a manager, clerks and a sales associate each.  After the
year has run (``seed_demo``), about a quarter of the orders, a third of the
recharges and card claims and a fifth of the registrations are put at a
counter: a store, and the clerk who served or the associate who brought them.
The counter's own paths (the till's order commit, the clerk page) write these
as they happen; the demo's year goes through the mini-program's, so it marks
its counter share afterwards, deterministically by row id.  Runs once: rows
that already carry a store are left alone.
"""

from __future__ import annotations

from django.db.models import F
from django.db.models.functions import Mod

from members.models import Member
from membership.models import MembershipCard
from orders.models import Order
from stored_value.models import RechargeOrder
from stores.models import Staff, StaffAssignment, Store, StoreRole

STORES = [
    ("HZ-XH", "西湖店", "杭州市西湖区北山街 12 号", "0571-8701 0001", "09:30–22:00"),
    ("HZ-BJ", "滨江店", "杭州市滨江区江南大道 588 号", "0571-8701 0002", "10:00–22:00"),
    ("SH-JA", "静安店", "上海市静安区南京西路 1266 号", "021-6288 0003", "10:00–22:30"),
]
#: code, name, the store (index into STORES), role.  The first three sign in to the demo's back office.
STAFF = [
    ("S001", "林店长", 0, StoreRole.MANAGER),
    ("S002", "陈晓", 0, StoreRole.CLERK),
    ("S003", "周导购", 0, StoreRole.ASSOCIATE),
    ("S004", "王店长", 1, StoreRole.MANAGER),
    ("S005", "李青", 1, StoreRole.CLERK),
    ("S006", "赵导购", 1, StoreRole.ASSOCIATE),
    ("S007", "孙店长", 2, StoreRole.MANAGER),
    ("S008", "吴悦", 2, StoreRole.CLERK),
    ("S009", "郑晨", 2, StoreRole.CLERK),
    ("S010", "钱导购", 2, StoreRole.ASSOCIATE),
]
#: The demo's store logins (rundemo): username -> staff code.
LOGINS = {"dianzhang": "S001", "dianyuan": "S002", "daogou": "S003"}


def seed_stores() -> tuple[list[Store], list[Staff]]:
    """The three stores and their staff (again: nothing added)."""
    stores = [
        Store.objects.get_or_create(
            code=code, defaults={"name": name, "address": address, "phone": phone, "opening_hours": hours}
        )[0]
        for code, name, address, phone, hours in STORES
    ]
    staff = []
    for code, name, at, role in STAFF:
        person = Staff.objects.get_or_create(code=code, defaults={"name": name})[0]
        StaffAssignment.objects.get_or_create(staff=person, store=stores[at], defaults={"role": role})
        staff.append(person)
    return stores, staff


def _people(stores, staff, role) -> list[Staff]:
    """For each store, its first staff member in ``role``."""
    by_store = {}
    for (_code, _name, at, r), person in zip(STAFF, staff, strict=True):
        if r == role:
            by_store.setdefault(at, person)
    return [by_store[i] for i in range(len(stores))]


def _mark(queryset, *, every: int, stores, fields) -> int:
    """Rows whose id is a multiple of ``every`` go to the stores in turn (set-based: one UPDATE per store)."""
    marked = 0
    rows = queryset.annotate(_r=Mod(F("pk"), every * len(stores)))
    for i, store in enumerate(stores):
        marked += rows.filter(_r=i * every).update(**fields(i, store))
    return marked


def attribute_counter_share() -> dict[str, int]:
    """A quarter of the orders, a third of recharges and card claims, a fifth of registrations at a counter."""
    stores, staff = seed_stores()
    clerks = _people(stores, staff, StoreRole.CLERK)
    associates = _people(stores, staff, StoreRole.ASSOCIATE)
    demo = {"member__openid__startswith": "demo_"}
    return {
        "registrations": _mark(
            Member.objects.filter(openid__startswith="demo_", registration_store__isnull=True),
            every=5,
            stores=stores,
            fields=lambda i, s: {
                "registration_store": s,
                "home_store": s,
                "registration_staff": associates[i],
            },
        ),
        "orders": _mark(
            Order.objects.filter(store__isnull=True, **demo),
            every=4,
            stores=stores,
            fields=lambda i, s: {"store": s, "staff": clerks[i]},
        ),
        "recharges": _mark(
            RechargeOrder.objects.filter(store__isnull=True, **demo),
            every=3,
            stores=stores,
            fields=lambda i, s: {"store": s, "staff": clerks[i]},
        ),
        "card claims": _mark(
            MembershipCard.objects.filter(store__isnull=True, source="claim", **demo),
            every=3,
            stores=stores,
            fields=lambda i, s: {"store": s, "staff": associates[i].code},
        ),
    }
