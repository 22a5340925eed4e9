"""The spending order of points lots is written twice, in SQL (``points.sql.SPENDING_ORDER``, for the
statements that pick lots) and in Python (``points.ledger.spending_order``, for give-backs and debt
repayment): on any lots, ties and lots that never expire included, the two put them in one order."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from points import ledger, sql
from points.models import PointsAccount, PointsLot
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

# (expiry day, or None: never; the day it was earned), from few days, so that ties are common.
lots_strategy = st.lists(
    st.tuples(st.one_of(st.none(), st.integers(0, 3)), st.integers(0, 3)), min_size=1, max_size=12
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lots=lots_strategy, due_days=st.integers(-1, 4))
def test_the_sql_order_and_the_python_order_of_lots_agree(lots, due_days):
    member = MemberFactory()
    now = timezone.now()
    start = now + timedelta(days=10)
    for n, (expiry_day, _) in enumerate(lots):
        ledger.points_earn(
            member_id=member.pk,
            amount=n + 1,
            idempotency_key=f"lot{n}",
            source="t",
            expires_at=None if expiry_day is None else start + timedelta(days=expiry_day),
        )
    account = PointsAccount.objects.get(member=member)
    created = list(PointsLot.objects.filter(account=account).order_by("id"))
    for lot, (_, earned_day) in zip(created, lots, strict=True):
        lot.earned_at = now - timedelta(days=earned_day)  # not in the order of the ids
        lot.save(update_fields=["earned_at"])

    in_python = [lot.id for lot in sorted(created, key=ledger.spending_order)]
    with connection.cursor() as cur:
        assert [lot.id for lot in sql.open_lots(cur, account.id)] == in_python
        # with some lots past due, and an amount that needs every lot
        at = start + timedelta(days=due_days)
        assert [lot.id for lot in sql.lots_to_spend(cur, account.id, at, 10_000)] == in_python
