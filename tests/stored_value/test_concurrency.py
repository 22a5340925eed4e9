"""Real parallel connections against one stored-value account."""

import pytest

from loyalty.errors import ApplicationError
from stored_value import ledger
from stored_value.models import StoredValueEntry
from tests.factories import MemberFactory
from tests.points.test_concurrency import run_parallel
from tests.stored_value.helpers import credit, parts

# One xdist worker runs every module with many connections (see tests/points/test_concurrency.py).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("many-connections")]


def test_a_hundred_parallel_spends_never_overdraw_a_100_yuan_balance():
    """100 spends released at once over 50 connections, two each: PostgreSQL's default of 100
    connections (CI's real server) leaves no room for 100 at once beside the other test worker."""
    member = MemberFactory()
    credit(member, 9_000, 1_000)  # ¥100.00

    def two_spends(i):
        outcomes = []
        for n in (2 * i, 2 * i + 1):
            try:
                outcomes.append(
                    ledger.stored_value_spend(member_id=member.pk, amount_fen=300, idempotency_key=f"s{n}")
                )
            except ApplicationError as exc:
                outcomes.append(exc.code)
        return outcomes

    outcomes, crashed = run_parallel(50, two_spends)
    assert crashed == []
    flat = [outcome for pair in outcomes for outcome in pair]
    results = [o for o in flat if not isinstance(o, str)]
    errors = [o for o in flat if isinstance(o, str)]

    assert len(results) == 33 and errors == ["insufficient_balance"] * 67
    assert sum(parts(member)) == 100
    assert min(parts(member)) >= 0
    assert StoredValueEntry.objects.filter(kind="spend").count() == 33


def test_parallel_duplicates_of_one_spend_post_once():
    member = MemberFactory()
    credit(member, 10_000)

    results, errors = run_parallel(
        30,
        lambda i: ledger.stored_value_spend(member_id=member.pk, amount_fen=2_500, idempotency_key="order-9"),
    )

    assert errors == [] and len({r.entry_id for r in results}) == 1
    assert parts(member) == (7_500, 0)


def test_a_recharge_waiting_on_wechat_never_holds_up_the_members_spends(monkeypatch):
    """The recharge decides under a lock of its own, not the account's: WeChat's slowness is not ours."""
    import threading
    import time

    from django.db import connections

    from payments.gateway import FakeGateway
    from tests.conftest import client_for
    from tests.stored_value.recharge_helpers import plan_1500_150

    member = MemberFactory()
    credit(member, 10_000)
    plan = plan_1500_150()
    real_prepay, entered = FakeGateway.prepay, threading.Event()

    def slow_prepay(self, **kwargs):
        entered.set()
        time.sleep(1.5)
        return real_prepay(self, **kwargs)

    monkeypatch.setattr(FakeGateway, "prepay", slow_prepay)

    def recharge():
        try:
            client_for(member).post(
                "/api/v1/stored-value/recharges",
                {"plan_id": plan.pk, "amount_fen": 150_000},
                format="json",
                HTTP_IDEMPOTENCY_KEY="r1",
            )
        finally:
            connections.close_all()

    thread = threading.Thread(target=recharge)
    thread.start()
    assert entered.wait(5)
    started = time.monotonic()
    ledger.stored_value_spend(member_id=member.pk, amount_fen=100, idempotency_key="coffee")
    waited = time.monotonic() - started
    thread.join()

    assert waited < 1.0
    assert sum(parts(member)) == 9_900
