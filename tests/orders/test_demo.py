import io

import pytest
import time_machine
from django.core.management import call_command

from orders.models import Order
from tests.helpers import assert_ledgers_consistent, local

pytestmark = pytest.mark.django_db


def test_the_demo_checks_out_orders_through_the_real_services_once(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    with time_machine.travel(local(2026, 12, 4, 20, 0)):
        call_command("seed_demo", "--members", "30", stdout=io.StringIO())
        count = Order.objects.count()
        call_command("seed_demo", "--members", "30", stdout=io.StringIO())

    assert count > 30 and Order.objects.count() == count
    statuses = set(Order.objects.values_list("status", flat=True))
    assert {"completed", "partially_refunded", "cancelled"} <= statuses
    assert Order.objects.filter(stored_value_fen__gt=0).exists()
    assert Order.objects.filter(points_used__gt=0).exists() and Order.objects.exclude(coupon_ids=[]).exists()
    # Completed minutes after the commit, on the day the member shopped.
    for order in Order.objects.filter(completed_at__isnull=False):
        assert order.committed_at < order.completed_at < order.expires_at
    assert_ledgers_consistent()
