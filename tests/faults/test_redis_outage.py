"""Redis stops: value-moving requests keep working, deferred work runs once Redis is back.

Redis is the cache (throttles, WeChat token) and the Celery broker.  Nothing
that moves value needs it: idempotency records, ledgers and job claims are in
PostgreSQL.  Work that is handed to a worker after commit (a refund's
submission, a bulk issue) is first committed in a state its periodic job
scans for (``loyalty.enqueue``), so a message the broker never took is late,
not lost.  The Redis here is a server of this test's own on a spare port: the
shared ones are never stopped.
"""

import logging
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from coupons import services as coupon_services
from coupons.models import BulkIssue, Coupon
from loyalty.celery import app as celery_app
from payments import services as payments
from payments.models import PaymentRefund
from stored_value import recharges
from tests.factories import CouponTemplateFactory, MemberFactory, RechargePlan1500Factory
from tests.faults.helpers import OwnRedis, start_worker, wait_for
from tests.helpers import assert_ledgers_consistent, client_for
from tests.stored_value.recharge_helpers import start_recharge

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _reset_celery_connections():
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    celery_app._backend_cache = None
    celery_app._local.__dict__.pop("backend", None)


@pytest.fixture
def own_redis(tmp_path, settings, monkeypatch):
    """Cache and broker of this process on a Redis of our own."""
    redis = OwnRedis(tmp_path).start()
    try:
        settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": redis.url}}
        for name, value in [
            ("broker_url", redis.url),
            ("result_backend", redis.url),
            ("task_always_eager", False),
        ]:
            monkeypatch.setitem(celery_app.conf, name, value)
        _reset_celery_connections()
        yield redis
    finally:
        redis.stop()
        _reset_celery_connections()


def paid_recharge(member):
    order, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    payments.payment_simulate_pay(payment=payment)
    order.refresh_from_db()
    assert order.status == "credited"
    return order


def test_with_redis_down_value_moving_requests_work_and_deferred_work_runs_once_it_is_back(
    own_redis, default_rules, fake_wechat, tmp_path, caplog
):
    member, finance = MemberFactory(), get_user_model().objects.create(username="finance", is_staff=True)
    order = paid_recharge(member)
    claimable = CouponTemplateFactory(fixed=True, total_stock=10)
    bulk_template = CouponTemplateFactory(fixed=True, name="bulk", total_stock=10)
    others = MemberFactory.create_batch(3)
    fake_wechat.add_login("c1", openid="o-outage", session_key="sk-1")
    api = client_for(member)

    own_redis.stop()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        check_in = api.post("/api/v1/points/check-in")
        claim = api.post(
            "/api/v1/coupons/claim", {"template_id": claimable.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
        )
        replay = api.post(
            "/api/v1/coupons/claim", {"template_id": claimable.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
        )
        login = client_for(member).post("/api/v1/auth/wechat-login", {"code": "c1"}, format="json")
        refunded = recharges.recharge_refund(
            order_id=order.pk, actor_id=finance.pk, reason="moving away", idempotency_key="rf-1"
        )
        bulk = coupon_services.bulk_issue_create(
            template_id=bulk_template.pk, member_ids=[m.pk for m in others], actor_id=finance.pk
        )
        health = api.get("/api/v1/health")
    elapsed = time.monotonic() - started

    assert check_in.status_code == 201, check_in.content
    assert claim.status_code == 201 and replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert Coupon.objects.filter(member=member).count() == 1
    assert login.status_code == 201, login.content
    assert refunded.status == "refunded"
    refund = PaymentRefund.objects.get()
    assert (refund.status, refund.attempts) == ("pending", 0)  # booked, not yet sent to WeChat Pay
    assert BulkIssue.objects.get(pk=bulk.pk).status == "queued"
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert "payments.tasks.submit_refund" in caplog.text and "coupons.tasks.run_bulk_issue" in caplog.text
    assert elapsed < 15, f"requests waited {elapsed:.1f}s on a dead Redis"

    own_redis.start()  # same port, empty: the lost messages are gone for good
    PaymentRefund.objects.update(updated_at=timezone.now() - timedelta(minutes=10))
    worker = start_worker(tmp_path, "value,bulk,celery", redis_url=own_redis.url)
    try:
        # What beat sends next: the periodic jobs that scan for the committed, unsent work.
        celery_app.send_task("payments.retry_refunds")
        celery_app.send_task("coupons.resume_bulk_issues")
        assert wait_for(
            lambda: (
                PaymentRefund.objects.filter(status="succeeded").exists()
                and BulkIssue.objects.filter(pk=bulk.pk, status="done").exists()
            ),
            timeout=30,
        ), worker.output()
    finally:
        worker.stop()

    assert PaymentRefund.objects.get().attempts == 1
    assert BulkIssue.objects.get(pk=bulk.pk).issued == 3
    assert Coupon.objects.filter(template=bulk_template).count() == 3
    assert_ledgers_consistent()


def test_throttled_login_fails_open_while_the_cache_is_down(own_redis, fake_wechat, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"login": "2/min"})
    for i in range(5):
        fake_wechat.add_login(f"c{i}", openid=f"o-{i}", session_key="sk")
    api = APIClient()
    up = [
        api.post("/api/v1/auth/wechat-login", {"code": f"c{i}"}, format="json").status_code for i in range(3)
    ]
    own_redis.stop()
    down = [
        api.post("/api/v1/auth/wechat-login", {"code": f"c{i}"}, format="json").status_code for i in (3, 4)
    ]

    assert up == [201, 201, 429]
    assert down == [201, 201]
