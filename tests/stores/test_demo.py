"""The demo's stores: three with staff, a quarter of the orders at their counters, logins for 西湖店's staff."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db.models import F

from loyalty.management.commands.rundemo import Command
from members.models import Member
from orders.models import Order
from stores import demo
from stores.models import Staff, Store
from stores.scoping import store_ids_for
from tests.factories import MemberFactory, OrderFactory
from tests.stores.helpers import create_role_groups

pytestmark = pytest.mark.django_db


def test_the_demo_puts_a_quarter_of_the_orders_at_three_stores_counters_once():
    members = [MemberFactory(openid=f"demo_{n:05d}") for n in range(20)]
    for n in range(120):
        OrderFactory(member=members[n % 20])

    first = demo.attribute_counter_share()
    again = demo.attribute_counter_share()

    assert Store.objects.count() == 3 and Staff.objects.count() == len(demo.STAFF)
    at_counter = Order.objects.filter(store__isnull=False)
    assert 25 <= at_counter.count() <= 35  # a quarter of 120
    assert set(at_counter.values_list("store__code", flat=True)) == {c for c, *_ in demo.STORES}
    assert not at_counter.filter(staff__isnull=True).exists()
    registered = Member.objects.filter(registration_store__isnull=False)
    assert registered.count() == 4 and not registered.exclude(home_store=F("registration_store")).exists()
    assert first["orders"] == at_counter.count() and again["orders"] == 0  # rows with a store are left alone


def test_rundemo_gives_the_first_stores_staff_logins_scoped_to_it(client):
    create_role_groups()
    Command().store_users("demo-password-1")
    Command().store_users("demo-password-1")  # every demo run: same accounts, same login

    xihu = Store.objects.get(code="HZ-XH")
    for username, group in [("dianzhang", "店长"), ("dianyuan", "店员"), ("daogou", "导购")]:
        user = User.objects.get(username=username)
        assert user.is_staff and not user.is_superuser
        assert list(user.groups.values_list("name", flat=True)) == [group]
        assert store_ids_for(user) == frozenset([xihu.pk])
        assert client.login(username=username, password="demo-password-1")
