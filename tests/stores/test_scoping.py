"""The BOLA matrix's store dimension: a staff member of store A sees and acts only on store A's rows.

Page by page (members by home store, orders, recharges, cards, coupons and
redemptions by the store of their counter events): the list, the CSV export,
the object's page by URL and its actions (a recharge refund).  The merchant's
own operators and superusers are not scoped.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.db import models
from django.utils import timezone

from coupons.models import Coupon
from mall.models import Redemption
from members.models import Member
from orders.models import Order
from stored_value.models import RechargeOrder
from stores.models import Store, StoreRole
from stores.scoping import StoreScopedAdminMixin, store_ids_for
from tests.factories import StaffFactory, StoreFactory
from tests.helpers import csv_download
from tests.security.helpers import db_fingerprint
from tests.stores.helpers import create_role_groups, staff_user, store_world

pytestmark = pytest.mark.django_db

# page -> (the list URL, the detail URL template, the world's key of its object)
PAGES = {
    "members": ("/admin/members/member/", "/admin/members/member/{}/change/", "member"),
    "member overview": (None, "/admin/members/member/{}/overview/", "member"),
    "orders": ("/admin/orders/order/", "/admin/orders/order/{}/change/", "order"),
    "recharges": (
        "/admin/stored_value/rechargeorder/",
        "/admin/stored_value/rechargeorder/{}/change/",
        "recharge",
    ),
    "recharge refund": (None, "/admin/stored_value/rechargeorder/{}/refund/", "recharge"),
    "cards": ("/admin/membership/membershipcard/", "/admin/membership/membershipcard/{}/change/", "card"),
    "coupons": ("/admin/coupons/coupon/", "/admin/coupons/coupon/{}/change/", "coupon"),
    "redemptions": ("/admin/mall/redemption/", "/admin/mall/redemption/{}/change/", "redemption"),
    "store": ("/admin/stores/store/", "/admin/stores/store/{}/change/", "store"),
}
EXPORTS = {
    "orders": "/admin/orders/order/export/",
    "recharges": "/admin/stored_value/rechargeorder/export/",
    "coupons": "/admin/coupons/coupon/export/",
    "redemptions": "/admin/mall/redemption/export/",
}


@pytest.fixture(autouse=True)
def groups(db):
    create_role_groups()


@pytest.fixture
def world():
    a, b = StoreFactory(code="A", name="西湖店"), StoreFactory(code="B", name="滨江店")
    return store_world(a, tag="a"), store_world(b, tag="b")


@pytest.fixture
def manager_of_a(world):
    return staff_user({Store.objects.get(code="A"): StoreRole.MANAGER}, username="dianzhang-a")


def listed_ids(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


@pytest.mark.parametrize("page", [p for p, (url, _, _) in PAGES.items() if url])
def test_a_store_manager_lists_only_their_stores_rows(client, world, manager_of_a, page):
    client.force_login(manager_of_a)
    mine, theirs = world
    url, _, key = PAGES[page]

    response = client.get(url)

    assert response.status_code == 200, page
    assert listed_ids(response) == {mine[key]}, page
    assert theirs[key] not in listed_ids(response)


@pytest.mark.parametrize("page", list(PAGES))
def test_another_stores_object_is_not_found_by_url_and_ones_own_opens(client, world, manager_of_a, page):
    client.force_login(manager_of_a)
    mine, theirs = world
    _, detail, key = PAGES[page]

    assert client.get(detail.format(theirs[key])).status_code == 404, page
    assert client.get(detail.format(mine[key])).status_code == 200, page


@pytest.mark.parametrize("page", list(EXPORTS))
def test_a_store_managers_csv_export_holds_only_their_stores_rows(client, world, manager_of_a, page):
    client.force_login(manager_of_a)

    _name, rows = csv_download(client.get(EXPORTS[page]))

    assert len(rows) == 1, page


def test_a_store_manager_cannot_refund_another_stores_recharge_and_nothing_changes(
    client, world, manager_of_a
):
    client.force_login(manager_of_a)
    _mine, theirs = world
    before = db_fingerprint()

    response = client.post(
        f"/admin/stored_value/rechargeorder/{theirs['recharge']}/refund/",
        {"reason": "r", "idempotency_key": "k"},
    )

    assert response.status_code == 404
    assert db_fingerprint() == before
    assert RechargeOrder.objects.get(pk=theirs["recharge"]).refunded_fen == 0


def test_a_malformed_object_id_in_the_url_is_not_found(client, world, manager_of_a):
    client.force_login(manager_of_a)

    assert client.get("/admin/orders/order/abc/change/").status_code == 404


@pytest.mark.parametrize("role", [StoreRole.CLERK, StoreRole.ASSOCIATE])
def test_a_clerk_or_associate_sees_their_stores_rows_on_the_pages_of_their_role(client, world, role):
    mine, theirs = world
    user = staff_user({Store.objects.get(code="A"): role}, username=f"u-{role}")
    client.force_login(user)

    members = client.get("/admin/members/member/")
    orders = client.get("/admin/orders/order/")

    assert listed_ids(members) == {mine["member"]} and listed_ids(orders) == {mine["order"]}
    assert client.get(f"/admin/orders/order/{theirs['order']}/change/").status_code == 404
    # a role's group never opens the money actions of the merchant's roles
    assert client.get(f"/admin/stored_value/rechargeorder/{mine['recharge']}/refund/").status_code == 403


def test_the_merchants_operator_and_superuser_see_every_store(client, world, admin_user):
    operator = User.objects.create_user(username="yunying-x", password="pw", is_staff=True)
    operator.groups.add(Group.objects.get(name="运营"))
    everyone = {world[0]["order"], world[1]["order"]}

    for user in (operator, admin_user):
        client.force_login(user)
        assert listed_ids(client.get("/admin/orders/order/")) == everyone
        assert client.get(f"/admin/orders/order/{world[1]['order']}/change/").status_code == 200


def test_a_staff_member_working_in_two_stores_sees_both_and_filters_by_store(client, world):
    both = {Store.objects.get(code="A"): StoreRole.MANAGER, Store.objects.get(code="B"): StoreRole.CLERK}
    client.force_login(staff_user(both, username="two-stores"))

    everything = client.get("/admin/orders/order/")
    only_b = client.get(f"/admin/orders/order/?store__id__exact={world[1]['store']}")

    assert listed_ids(everything) == {world[0]["order"], world[1]["order"]}
    assert listed_ids(only_b) == {world[1]["order"]}


def test_an_inactive_staff_member_or_one_without_a_store_sees_nothing(client, world):
    inactive = staff_user({Store.objects.get(code="A"): StoreRole.MANAGER}, username="gone", active=False)
    inactive.groups.add(Group.objects.get(name="店长"))  # even with the group left on the account
    homeless = staff_user({}, username="homeless")
    homeless.groups.add(Group.objects.get(name="店长"))

    for user in (inactive, homeless):
        assert store_ids_for(user) == frozenset()
        client.force_login(user)
        assert listed_ids(client.get("/admin/orders/order/")) == set()
        assert client.get(f"/admin/orders/order/{world[0]['order']}/change/").status_code == 404


def test_a_scoped_user_picks_a_home_store_only_among_their_own(rf, world, manager_of_a):
    request = rf.get("/")
    request.user = manager_of_a
    member_admin = admin.site._registry[Member]
    field = member_admin.formfield_for_foreignkey(Member._meta.get_field("home_store"), request)

    assert list(field.queryset.values_list("code", flat=True)) == ["A"]


def _holds_store(model) -> bool:
    return any(
        isinstance(f, models.ForeignKey) and f.related_model is Store and f.name != "registration_store"
        for f in model._meta.get_fields()
    )


def test_every_admin_page_of_store_bearing_rows_is_store_scoped():
    """A new page of store-bearing rows fails here until it takes StoreScopedAdminMixin."""
    pages = {model for model in admin.site._registry if _holds_store(model)} | {Coupon, Redemption}
    unscoped = sorted(
        m._meta.label for m in pages if not isinstance(admin.site._registry[m], StoreScopedAdminMixin)
    )

    assert not unscoped, f"admin pages of store-bearing rows without StoreScopedAdminMixin: {unscoped}"
    assert len(pages) >= 6


def test_the_store_roles_open_only_store_scoped_pages():
    """店长, 店员 and 导购 see members, orders and money only through pages that scope them."""
    scoped = {
        m._meta.label_lower
        for m, model_admin in admin.site._registry.items()
        if isinstance(model_admin, StoreScopedAdminMixin)
    }
    neutral = {"coupons.couponevent", "mall.redemptionevent", "stores.staff", "analytics.dailymetrics"}
    for group in Group.objects.filter(name__in=["店长", "店员", "导购"]):
        models_seen = {
            f"{p.content_type.app_label}.{p.content_type.model}"
            for p in group.permissions.select_related("content_type")
            if p.codename.split("_", 1)[0] in ("view", "add", "change", "delete")
        }
        assert models_seen <= scoped | neutral, (group.name, models_seen - scoped - neutral)


def test_staff_factory_assigns_roles():
    store = StoreFactory()
    staff = StaffFactory(stores={store: StoreRole.CLERK})
    assert list(staff.assignments.values_list("role", flat=True)) == ["clerk"]


def test_a_store_manager_opens_the_portrait_of_their_stores_member_only(client, world, manager_of_a):
    client.force_login(manager_of_a)
    mine, theirs = world

    assert client.get(f"/admin/analytics/dailymetrics/portrait/{theirs['member']}/").status_code == 404
    assert client.get(f"/admin/analytics/dailymetrics/portrait/{mine['member']}/").status_code == 200


def test_a_store_managers_home_page_counts_only_their_stores_figures_and_no_merchant_to_dos(
    client, world, manager_of_a, admin_user
):
    Order.objects.update(completed_at=timezone.now())
    paid = {o.store.code: o.cash_fen + o.stored_value_fen for o in Order.objects.select_related("store")}
    client.force_login(manager_of_a)

    bench = client.get("/admin/").context["workbench"]

    assert bench["todos"] == []
    shown = {str(f["title"]): f["today"] for f in bench["figures"]}
    assert set(shown) == {"销售额", "新增会员", "充值"}  # not the merchant's points issued
    assert shown["销售额"] == f"¥{paid['A'] / 100:,.2f}"
    client.force_login(admin_user)
    everything = {str(f["title"]): f["today"] for f in client.get("/admin/").context["workbench"]["figures"]}
    assert everything["销售额"] == f"¥{(paid['A'] + paid['B']) / 100:,.2f}"


def test_the_order_and_recharge_exports_name_the_store_and_the_staff_member(admin_client, world):
    staff = StaffFactory(code="S777", name="小陈", stores={Store.objects.get(code="A"): StoreRole.CLERK})
    Order.objects.filter(pk=world[0]["order"]).update(staff=staff)

    _n, orders = csv_download(admin_client.get("/admin/orders/order/export/"))
    _n, recharges = csv_download(admin_client.get("/admin/stored_value/rechargeorder/export/"))

    assert sorted((r["门店"], r["员工"]) for r in orders) == [("滨江店", ""), ("西湖店", "小陈（S777）")]
    assert sorted(r["门店"] for r in recharges) == ["滨江店", "西湖店"]
