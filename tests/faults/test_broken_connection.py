"""The database connection breaks in the middle of a posting: nothing partial is written.

Each posting is held inside its transaction by a gate (a trigger on the
ledger table waiting for an advisory lock the test holds), after it wrote its
rows and before it commits; another connection then terminates its backend
(``pg_terminate_backend``), as a failover, a network cut or an OOM kill would.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.db.utils import InterfaceError, OperationalError
from django.utils import timezone

from coupons.models import Coupon, CouponEvent, CouponTemplate
from loyalty.models import IdempotencyRecord
from points import ledger as points_ledger
from points.models import CheckIn
from stored_value import ledger as sv_ledger
from tests.factories import CouponTemplateFactory, MemberFactory, RechargeFactory
from tests.faults.helpers import Gate, install_gate, query, remove_gate, wait_for
from tests.helpers import assert_ledgers_consistent, client_for
from tests.points.helpers import snapshot as points_snapshot
from tests.stored_value.helpers import snapshot as sv_snapshot

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def break_mid_posting(table: str, work):
    """Run ``work`` in a thread of its own; kill its backend once it waits at the gate on ``table``.

    Returns what ``work`` returned or raised.
    """
    install_gate(table)
    gate = Gate()
    outcome = {}

    def run():
        try:
            outcome["result"] = work()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    try:
        thread.start()
        assert wait_for(lambda: gate.waiting(), timeout=60), f"the posting never reached the gate: {outcome}"
        (pid,) = gate.waiting()
        assert query("SELECT pg_terminate_backend(%s)", [pid]) == [(True,)]
        thread.join(timeout=60)
    finally:
        gate.open()
        thread.join(timeout=60)
        remove_gate(table)
    assert not thread.is_alive()
    return outcome


def test_a_points_spend_whose_connection_breaks_writes_nothing(default_rules):
    member = MemberFactory()
    points_ledger.points_earn(
        member_id=member.pk, amount=500, idempotency_key="seed", source="test", expires_at=None
    )
    before = points_snapshot(member)

    outcome = break_mid_posting(
        "points_pointsentry",
        lambda: points_ledger.points_spend(member_id=member.pk, amount=200, idempotency_key="spend-1"),
    )

    assert isinstance(outcome.get("error"), OperationalError | InterfaceError), outcome
    assert points_snapshot(member) == before
    assert_ledgers_consistent()
    # The key is free again: the retry posts once.
    assert (
        points_ledger.points_spend(member_id=member.pk, amount=200, idempotency_key="spend-1").balance_after
        == 300
    )


def test_a_points_earn_through_the_api_answers_503_and_writes_nothing(default_rules):
    member = MemberFactory()
    before = points_snapshot(member)

    outcome = break_mid_posting(
        "points_pointsentry", lambda: client_for(member).post("/api/v1/points/check-in")
    )

    response = outcome["result"]
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "database_unavailable" and response["Retry-After"] == "2"
    assert points_snapshot(member) == before and not CheckIn.objects.exists()
    assert_ledgers_consistent()
    assert client_for(member).post("/api/v1/points/check-in").status_code == 201


def test_a_stored_value_spend_whose_connection_breaks_writes_nothing():
    member = MemberFactory()
    RechargeFactory(member=member, amount_fen=150_000, bonus_fen=15_000)
    before = sv_snapshot(member)

    outcome = break_mid_posting(
        "stored_value_storedvalueentry",
        lambda: sv_ledger.stored_value_spend(
            member_id=member.pk, amount_fen=160_000, idempotency_key="order-1"
        ),
    )

    assert isinstance(outcome.get("error"), OperationalError | InterfaceError), outcome
    assert sv_snapshot(member) == before
    assert_ledgers_consistent()


def test_a_coupon_claim_whose_connection_breaks_answers_503_and_takes_no_stock():
    member = MemberFactory()
    template = CouponTemplateFactory(
        fixed=True, total_stock=5, claim_ends_at=timezone.now() + timedelta(days=1)
    )

    outcome = break_mid_posting(
        "coupons_couponevent",
        lambda: client_for(member).post(
            "/api/v1/coupons/claim",
            {"template_id": template.pk},
            format="json",
            HTTP_IDEMPOTENCY_KEY="claim-1",
        ),
    )

    response = outcome["result"]
    assert response.status_code == 503 and response.json()["code"] == "database_unavailable", response.content
    assert CouponTemplate.objects.get(pk=template.pk).issued_count == 0
    assert not Coupon.objects.exists() and not CouponEvent.objects.exists()
    assert not IdempotencyRecord.objects.exists()  # the key was not spent on a failure
    assert_ledgers_consistent()
    retry = client_for(member).post(
        "/api/v1/coupons/claim", {"template_id": template.pk}, format="json", HTTP_IDEMPOTENCY_KEY="claim-1"
    )
    assert retry.status_code == 201 and CouponTemplate.objects.get(pk=template.pk).issued_count == 1
