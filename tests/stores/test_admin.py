"""Operators set up stores and staff in the back office: roles per store, an account in the roles' groups."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from stores.models import Staff, Store, StoreRole
from tests.factories import StaffFactory, StoreFactory
from tests.helpers import page_text
from tests.stores.helpers import create_role_groups, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def groups(db):
    create_role_groups()


def inline(prefix="assignments", rows=()):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, (store, role) in enumerate(rows):
        data |= {f"{prefix}-{i}-store": str(store.pk), f"{prefix}-{i}-role": role}
    return data


def test_an_operator_adds_a_store_and_a_staff_member_with_a_role_then_an_account(admin_client):
    added = admin_client.post(
        "/admin/stores/store/add/",
        {
            "code": "HZ-01",
            "name": "西湖店",
            "status": "open",
            "address": "",
            "phone": "",
            "opening_hours": "",
        },
    )
    store = Store.objects.get(code="HZ-01")
    staff_added = admin_client.post(
        "/admin/stores/staff/add/",
        {"code": "S001", "name": "林店长", "phone": "", "active": "on", **inline(rows=[(store, "manager")])},
    )
    staff = Staff.objects.get(code="S001")
    account = admin_client.post(
        f"/admin/stores/staff/{staff.pk}/account/", {"username": "lin", "password": "pw-1"}
    )

    assert (added.status_code, staff_added.status_code, account.status_code) == (302, 302, 302)
    user = User.objects.get(username="lin")
    assert user.is_staff and user.check_password("pw-1") and Staff.objects.get(pk=staff.pk).user == user
    assert list(user.groups.values_list("name", flat=True)) == ["店长"]
    listing = page_text(admin_client.get("/admin/stores/staff/"))
    assert "西湖店 · 店长" in listing and "lin" in listing


def test_changing_a_staff_members_roles_or_deactivating_them_changes_their_groups(admin_client):
    a, b = StoreFactory(), StoreFactory()
    user = staff_user({a: StoreRole.CLERK}, username="xiao")
    staff = user.staff

    admin_client.post(
        f"/admin/stores/staff/{staff.pk}/change/",
        {"code": staff.code, "name": staff.name, "phone": "", "active": "on",
         **inline(rows=[(b, "associate")]),
         "assignments-TOTAL_FORMS": "2", "assignments-INITIAL_FORMS": "1",
         "assignments-0-id": str(staff.assignments.get().pk), "assignments-0-staff": str(staff.pk),
         "assignments-0-store": str(a.pk), "assignments-0-role": "clerk",
         "assignments-1-store": str(b.pk), "assignments-1-role": "associate"},
    )  # fmt: skip
    assert set(user.groups.values_list("name", flat=True)) == {"店员", "导购"}

    admin_client.post(
        f"/admin/stores/staff/{staff.pk}/change/",
        {
            "code": staff.code,
            "name": staff.name,
            "phone": "",
            "assignments-TOTAL_FORMS": "2",
            "assignments-INITIAL_FORMS": "2",
            "assignments-MIN_NUM_FORMS": "0",
            "assignments-MAX_NUM_FORMS": "1000",
            **{
                f"assignments-{i}-{k}": str(v)
                for i, a_ in enumerate(staff.assignments.order_by("pk"))
                for k, v in {"id": a_.pk, "staff": staff.pk, "store": a_.store_id, "role": a_.role}.items()
            },
        },
    )  # fmt: skip  (active unticked)
    assert not Staff.objects.get(pk=staff.pk).active
    assert not user.groups.exists()


def test_an_account_cannot_take_a_superusers_or_another_staff_members_login_and_nothing_changes(
    admin_client, admin_user
):
    taken = staff_user({StoreFactory(): StoreRole.CLERK}, username="taken")
    newcomer = StaffFactory()

    for username in (admin_user.username, taken.username):
        response = admin_client.post(f"/admin/stores/staff/{newcomer.pk}/account/", {"username": username})
        assert response.status_code == 200 and response.context["form"].errors["username"]
    assert Staff.objects.get(pk=newcomer.pk).user is None
    assert not admin_user.groups.exists()


def test_an_existing_back_office_user_is_linked_to_a_staff_member(admin_client):
    user = User.objects.create_user(username="old-clerk")
    staff = StaffFactory(stores={StoreFactory(): StoreRole.CLERK})

    admin_client.post(f"/admin/stores/staff/{staff.pk}/account/", {"username": "old-clerk"})

    user.refresh_from_db()
    assert user.is_staff and Staff.objects.get(pk=staff.pk).user == user
    assert list(user.groups.values_list("name", flat=True)) == ["店员"]


def test_a_store_manager_sees_their_stores_staff_and_cannot_give_anyone_an_account(client):
    a, b = StoreFactory(), StoreFactory()
    manager = staff_user({a: StoreRole.MANAGER}, username="m-a")
    colleague = StaffFactory(stores={a: StoreRole.CLERK})
    other = StaffFactory(stores={b: StoreRole.CLERK})
    client.force_login(manager)

    listed = {s.pk for s in client.get("/admin/stores/staff/").context["cl"].result_list}

    assert listed == {manager.staff.pk, colleague.pk}
    assert client.get(f"/admin/stores/staff/{other.pk}/change/").status_code == 404
    assert client.post(f"/admin/stores/staff/{colleague.pk}/account/", {"username": "x"}).status_code == 403
    assert not User.objects.filter(username="x").exists()
