"""Real parallel connections against one stored-value account."""

import pytest

from stored_value import ledger
from stored_value.models import StoredValueEntry
from tests.concurrency import in_thread, run_concurrently
from tests.factories import MemberFactory
from tests.stored_value.helpers import credit, parts

# One xdist worker runs every module with many connections (see tests/points/test_concurrency.py).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("many-connections")]


def test_a_hundred_parallel_spends_never_overdraw_a_100_yuan_balance():
    """100 spends released at once over at most 50 connections, two or more each: PostgreSQL's
    default of 100 connections (CI's real server) leaves no room for 100 at once beside the rest."""
    member = MemberFactory()
    credit(member, 9_000, 1_000)  # ¥100.00

    results, errors = run_concurrently(
        lambda i: ledger.stored_value_spend(member_id=member.pk, amount_fen=300, idempotency_key=f"s{i}"),
        100,
    )

    assert len(results) == 33 and errors == ["insufficient_balance"] * 67
    assert sum(parts(member)) == 100
    assert min(parts(member)) >= 0
    assert StoredValueEntry.objects.filter(kind="spend").count() == 33


def test_parallel_duplicates_of_one_spend_post_once():
    member = MemberFactory()
    credit(member, 10_000)

    results, errors = run_concurrently(
        lambda i: ledger.stored_value_spend(member_id=member.pk, amount_fen=2_500, idempotency_key="order-9"),
        30,
    )

    assert errors == [] and len({r.entry_id for r in results}) == 1
    assert parts(member) == (7_500, 0)


def test_a_recharge_waiting_on_wechat_never_holds_up_the_members_spends(monkeypatch):
    """The recharge decides under a lock of its own, not the account's: WeChat's slowness is not ours."""
    import threading
    import time

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

    recharge = in_thread(
        lambda: client_for(member).post(
            "/api/v1/stored-value/recharges",
            {"plan_id": plan.pk, "amount_fen": 150_000},
            format="json",
            HTTP_IDEMPOTENCY_KEY="r1",
        )
    )
    assert entered.wait(5)
    started = time.monotonic()
    ledger.stored_value_spend(member_id=member.pk, amount_fen=100, idempotency_key="coffee")
    waited = time.monotonic() - started

    assert recharge.result(timeout=60).status_code == 201
    assert waited < 1.0
    assert sum(parts(member)) == 9_900
