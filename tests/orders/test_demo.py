import io

import pytest
from django.core.management import call_command

from orders.models import Order
from tests.helpers import assert_ledgers_consistent

pytestmark = pytest.mark.django_db


def test_the_demo_checks_out_orders_through_the_real_services_once(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    call_command("seed_demo", "--members", "30", stdout=io.StringIO())
    checked_out = Order.objects.exclude(order_no__startswith="HIST-")  # analytics adds a year of history
    count = checked_out.count()
    call_command("seed_demo", "--members", "30", stdout=io.StringIO())

    assert count == 60 and checked_out.count() == 60
    statuses = set(checked_out.values_list("status", flat=True))
    assert {"completed", "partially_refunded", "cancelled"} <= statuses
    assert checked_out.filter(stored_value_fen__gt=0).exists()
    assert_ledgers_consistent()
