import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from loyalty.management.commands.verify_ledgers import find_violations
from membership.models import Membership
from membership.services import membership_record_order, membership_record_refund
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_orders_and_refunds_leave_every_membership_invariant_holding(tiers):
    member = MemberFactory()
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=123_456, completed_at=timezone.now())
    membership_record_refund(member_id=member.pk, order_no="A", refund_no="R", paid_fen=23_456)

    assert [v for v in find_violations() if v[0].startswith("members:")] == []
    call_command("verify_ledgers", stdout=io.StringIO())


def test_a_whole_refund_keeps_the_spend_and_order_count_invariants(tiers):
    member = MemberFactory()
    for no in ("A", "B"):
        membership_record_order(
            member_id=member.pk, order_no=no, paid_fen=120_000, completed_at=timezone.now()
        )
    membership_record_refund(
        member_id=member.pk, order_no="A", refund_no="R", paid_fen=120_000, fully_refunded=True
    )

    assert [v for v in find_violations() if v[0].startswith("members:")] == []


def test_a_spend_or_order_count_that_drifted_from_the_growth_ledger_is_reported(tiers):
    member = MemberFactory()
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=10_000, completed_at=timezone.now())
    membership_record_refund(
        member_id=member.pk, order_no="A", refund_no="R", paid_fen=10_000, fully_refunded=True
    )
    Membership.objects.filter(member=member).update(paid_total_fen=7, completed_orders=1)  # the count kept

    found = sorted(v for v in find_violations() if v[0].startswith("members:"))

    assert found == [
        (
            "members: completed-order count differs from the orders recorded less the ones refunded whole",
            (member.pk, 1, 0),
        ),
        (
            "members: cumulative paid spend differs from what the orders paid less their refunds",
            (member.pk, 7, 0),
        ),
    ]


def test_a_cached_growth_total_that_drifted_is_reported(tiers):
    member = MemberFactory()
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=10_000, completed_at=timezone.now())
    Membership.objects.filter(member=member).update(growth_total=999)

    found = [v for v in find_violations() if v[0].startswith("members:")]

    assert found == [("members: cached growth differs from the sum of growth entries", (member.pk, 999, 100))]


def test_growth_entries_and_tier_history_refuse_update_and_delete(tiers):
    member = MemberFactory()
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=100_000, completed_at=timezone.now())
    for table in ("members_growthentry", "members_tierchange"):
        for sql in (f"UPDATE {table} SET created_at = now()", f"DELETE FROM {table}"):
            with pytest.raises(Exception, match="append-only"), connection.cursor() as cur:
                cur.execute(sql)
