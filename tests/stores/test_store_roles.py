"""A role holds only in the store it was given for: 店长 in A and 店员 in B is a manager in A only.

The account is in both groups, so Django's ``has_perm`` answers for the union;
``stores.scoping`` narrows it per store: the lists, the object pages and their
actions, the bulk actions, the figures.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User

from members.models import Member
from payments import services as payments
from stored_value.models import RechargeOrder
from stores.models import Staff, Store, StoreRole
from stores.scoping import acting_in, store_ids_for
from tests.factories import RechargePlan1500Factory, StaffFactory, StoreFactory
from tests.security.helpers import db_fingerprint
from tests.stored_value.recharge_helpers import start_recharge
from tests.stores.helpers import create_role_groups, staff_user, store_world

pytestmark = pytest.mark.django_db

REFUND = "stored_value.refund_recharge"


@pytest.fixture(autouse=True)
def groups(db):
    create_role_groups()


@pytest.fixture
def world():
    a, b = StoreFactory(code="A", name="西湖店"), StoreFactory(code="B", name="滨江店")
    return store_world(a, tag="a"), store_world(b, tag="b")


def two_roles(second: str = StoreRole.CLERK, username: str = "two-roles") -> User:
    """店长 of A, and ``second`` in B."""
    return staff_user(
        {Store.objects.get(code="A"): StoreRole.MANAGER, Store.objects.get(code="B"): second},
        username=username,
    )


def listed_ids(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


def paid_recharge(world, store_key: int) -> RechargeOrder:
    member = Member.objects.get(pk=world[store_key]["member"])
    order, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    payments.payment_simulate_pay(payment=payment)
    RechargeOrder.objects.filter(pk=order.pk).update(store_id=world[store_key]["store"])
    return RechargeOrder.objects.get(pk=order.pk)


def test_a_permission_holds_in_the_stores_whose_role_grants_it(world, admin_user):
    user = two_roles()
    a, b = world[0]["store"], world[1]["store"]

    assert store_ids_for(user) == {a, b}
    assert store_ids_for(user, perm=REFUND) == {a}
    assert store_ids_for(user, perm="members.view_member") == {a, b}
    assert store_ids_for(admin_user, perm=REFUND) is None  # the merchant's side is not scoped
    assert acting_in(user, [a]).has_perm(REFUND) and not acting_in(user, [b]).has_perm(REFUND)
    assert acting_in(user, [b]).has_perm("members.view_member")
    assert user.has_perm(REFUND)  # the account itself keeps the union (its pages, the menu)


def test_a_permission_the_account_holds_outside_the_store_roles_holds_in_all_its_stores(world):
    user = two_roles()
    user.user_permissions.add(Permission.objects.get(codename="refund_recharge"))
    user = User.objects.get(pk=user.pk)

    assert store_ids_for(user, perm=REFUND) == {world[0]["store"], world[1]["store"]}


def test_the_manager_of_a_refunds_a_recharge_of_a_and_not_one_of_b_where_they_are_a_clerk(
    client, world, django_capture_on_commit_callbacks
):
    in_a, in_b = paid_recharge(world, 0), paid_recharge(world, 1)
    client.force_login(two_roles())
    url = "/admin/stored_value/rechargeorder/{}/refund/"
    before = db_fingerprint()

    assert client.get(url.format(in_b.pk)).status_code == 403
    assert client.post(url.format(in_b.pk), {"reason": "r", "idempotency_key": "kb"}).status_code == 403
    assert db_fingerprint() == before
    assert client.get(url.format(in_a.pk)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url.format(in_a.pk), {"reason": "退卡", "idempotency_key": "ka"})

    assert response.status_code == 302
    assert RechargeOrder.objects.get(pk=in_a.pk).refunded_fen == 150_000
    assert RechargeOrder.objects.get(pk=in_b.pk).refunded_fen == 0


def test_the_pages_of_the_managers_role_list_only_the_store_where_they_are_manager(client, world):
    mine, theirs = world
    clerk_of_b = StaffFactory(stores={Store.objects.get(code="B"): StoreRole.CLERK})
    client.force_login(two_roles())

    cards = client.get("/admin/membership/membershipcard/")
    staff = client.get("/admin/stores/staff/")

    assert listed_ids(cards) == {mine["card"]}
    assert client.get(f"/admin/membership/membershipcard/{theirs['card']}/change/").status_code == 403
    assert client.get(f"/admin/membership/membershipcard/{mine['card']}/change/").status_code == 200
    assert clerk_of_b.pk not in listed_ids(staff) and Staff.objects.get(user__username="two-roles").pk in (
        listed_ids(staff)
    )
    # the pages both roles hold list both stores' rows
    assert listed_ids(client.get("/admin/orders/order/")) == {mine["order"], theirs["order"]}


def test_a_sales_associate_in_b_sees_no_recharge_of_b(client, world):
    mine, theirs = world
    client.force_login(two_roles(StoreRole.ASSOCIATE, username="manager-associate"))

    assert listed_ids(client.get("/admin/stored_value/rechargeorder/")) == {mine["recharge"]}
    assert client.get(f"/admin/stored_value/rechargeorder/{theirs['recharge']}/change/").status_code == 403


def test_the_store_figures_are_those_of_the_stores_where_the_role_shows_them(client, world):
    client.force_login(two_roles())  # 店员 (in B) has no figures

    page = client.get("/admin/analytics/dailymetrics/")

    assert page.status_code == 200
    assert [row["code"] for row in page.context["store_rows"]] == ["A"]
    assert client.get(f"/admin/analytics/dailymetrics/?store={world[1]['store']}").context["store_rows"] == [
        page.context["store_rows"][0]
    ]


def test_a_bulk_action_on_a_row_of_a_store_where_the_role_does_not_hold_it_is_refused(client, world):
    """An operator gave 店长 the staff deletion: it holds for the staff of A, not of B."""
    view, delete = (Permission.objects.get(codename=c) for c in ("view_staff", "delete_staff"))
    Group.objects.get(name="店员").permissions.add(view)
    Group.objects.get(name="店长").permissions.add(delete)
    only_in_a = StaffFactory(stores={Store.objects.get(code="A"): StoreRole.CLERK})
    only_in_b = StaffFactory(stores={Store.objects.get(code="B"): StoreRole.CLERK})
    client.force_login(two_roles())

    def delete_selected(staff):
        return client.post(
            "/admin/stores/staff/",
            {"action": "delete_selected", "_selected_action": [staff.pk], "post": "yes"},
            follow=True,
        )

    refused = delete_selected(only_in_b)
    assert Staff.objects.filter(pk=only_in_b.pk).exists()
    assert any("未执行任何操作" in str(m) for m in refused.context["messages"])
    delete_selected(only_in_a)
    assert not Staff.objects.filter(pk=only_in_a.pk).exists()
