"""A worker is SIGKILLed in the middle of each batch job and the job runs again: the end is one clean run.

For every scheduled job: the data is built once and copied to a second
database (``CREATE DATABASE … TEMPLATE``).  On the copy the job runs once,
cleanly.  On the original a real Celery worker runs it until it is half-way —
some chunks committed, the next one written but not committed, held there by
a gate (a trigger waiting for an advisory lock the test holds) — and is killed
with SIGKILL.  Its orphaned backend is terminated, as PostgreSQL does when it
notices the client is gone, and the job is run again (through its periodic
job where that is how production recovers).  Both databases must then hold
the same rows (ids and timestamps aside) and pass ``verify_ledgers``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from bench.common import copy_members, copy_rows, create_database, drop_database, reset_sequences
from bench.points import _load_ledger
from loyalty.celery import app as celery_app
from loyalty.models import ApiNonce, IdempotencyRecord
from loyalty.services import api_client_create
from tests.faults.helpers import (
    Gate,
    install_gate,
    ledgers_clean,
    new_queue,
    query,
    remove_gate,
    start_worker,
    wait_for,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),  # send_task always sends
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_rules"),
]


@dataclass
class Job:
    task: str
    build: Callable[[], tuple]  # makes the data; returns the task's arguments
    gate: str  # the table whose writes the gate holds
    state: list[str]  # rows that must match a clean run (no ids or times the runs choose)
    passes: int = 1  # gated writes let through (committed) before the gate shuts
    progress: str | None = None  # SQL: > 0 once committed progress is visible
    per: str = "STATEMENT"
    events: str = "INSERT OR UPDATE"
    rerun: str | None = None  # how production runs it again, when not the task itself
    id: str = field(default="")


# --- data ---------------------------------------------------------------------------------------------


def _now():
    return timezone.now().replace(microsecond=0)


def points_to_expire():
    now = _now()
    # 450 accounts: chunks of 200, so two chunks commit only if the job gets that far.
    _load_ledger(
        450, lambda m: [(100 + m, now - timedelta(days=30), now - timedelta(days=1)), (50, now, None)]
    )
    return ()


def points_expiring_soon():
    now = _now()
    # 5,200 reminders: a chunk is 5,000 accounts, one transaction of five 1,000-row statements.
    _load_ledger(5200, lambda m: [(10 + m % 7, now - timedelta(days=1), now + timedelta(days=2 + m % 3))])
    return ()


def _template(*, stock: int, issued: int) -> int:
    from coupons.models import CouponTemplate

    return CouponTemplate.objects.create(
        name="faults",
        kind="amount_off",
        threshold_fen=10_000,
        amount_off_fen=2_000,
        total_stock=stock,
        issued_count=issued,
        valid_days=30,
    ).pk


def _coupons(count: int, *, status: str, valid_until, locked_until=None):
    now = _now()
    with connection.cursor() as cur:
        copy_members(cur, count, now)
        template = _template(stock=count, issued=count)
        copy_rows(
            cur,
            "coupons_coupon",
            [
                "template_id",
                "member_id",
                "code",
                "status",
                "source",
                "issue_key",
                "valid_from",
                "valid_until",
                "order_no",
                "locked_until",
                "issued_at",
            ],
            (
                (
                    template,
                    m,
                    f"F{m:012d}",
                    status,
                    "claim",
                    f"k{m}",
                    now - timedelta(days=40),
                    valid_until(m),
                    f"order-{m}" if status == "locked" else "",
                    locked_until,
                    now - timedelta(days=40),
                )
                for m in range(1, count + 1)
            ),
        )
        reset_sequences(cur, ["members_member", "coupons_coupon"])
    return ()


def coupons_past_validity():
    # 5,200: one chunk of 5,000 commits, the rest is the chunk the kill interrupts.
    return _coupons(5200, status="available", valid_until=lambda m: _now() - timedelta(hours=1 + m % 5))


def coupons_locked_by_lost_orders():
    now = _now()
    # Some of them also past their validity: released straight to expired.
    return _coupons(
        5200,
        status="locked",
        valid_until=lambda m: now + timedelta(days=5) if m % 4 else now - timedelta(hours=1),
        locked_until=now - timedelta(minutes=5),
    )


def coupons_expiring_soon():
    return _coupons(5200, status="available", valid_until=lambda m: _now() + timedelta(days=1, hours=m % 24))


def a_bulk_issue():
    from coupons.models import BulkIssue, BulkIssueTarget

    now = _now()
    with connection.cursor() as cur:
        copy_members(cur, 2500, now)
        reset_sequences(cur, ["members_member"])
        template = _template(stock=2300, issued=0)  # the last 200 members find it sold out
    operator = get_user_model().objects.create(username="operator")
    bulk = BulkIssue.objects.create(template_id=template, created_by=operator, total=2500)
    BulkIssueTarget.objects.bulk_create(BulkIssueTarget(bulk_issue=bulk, member_id=m) for m in range(1, 2501))
    return (bulk.pk,)


def _payments(count: int, *, status: str):
    from payments.models import Payment
    from stored_value.models import RechargeOrder, RechargePlan

    now = _now()
    with connection.cursor() as cur:
        copy_members(cur, count, now)
        reset_sequences(cur, ["members_member"])
    plan = RechargePlan.objects.create(name="open", kind="open", max_fen=10**9)
    payments = []
    for m in range(1, count + 1):
        order = RechargeOrder.objects.create(
            member_id=m,
            plan=plan,
            amount_fen=10_000 + m,
            bonus_fen=0,
            out_trade_no=f"T{m:010d}",
            status="created",
        )
        payments.append(
            Payment(
                member_id=m,
                purpose="recharge",
                reference=str(order.pk),
                out_trade_no=f"T{m:010d}",
                provider="fake",
                description="faults",
                amount_fen=10_000 + m,
                status=status,
                expires_at=now - timedelta(minutes=30),
            )
        )
    return Payment.objects.bulk_create(payments)


def payments_left_unpaid():
    _payments(40, status="created")
    return ()


def refunds_not_yet_accepted():
    from payments.models import Payment, PaymentRefund

    payments = _payments(40, status="paid")
    Payment.objects.update(refunded_fen=5_000)
    PaymentRefund.objects.bulk_create(
        PaymentRefund(payment=p, out_refund_no=f"R{p.out_trade_no}", amount_fen=5_000, reason="faults")
        for p in payments
    )
    PaymentRefund.objects.update(updated_at=timezone.now() - timedelta(minutes=30))
    return ()


def housekeeping_due():
    client, _ = api_client_create(name="order system")
    old = timezone.now() - timedelta(days=3)
    ApiNonce.objects.bulk_create(ApiNonce(client=client, nonce=f"n{i}") for i in range(305))
    ApiNonce.objects.filter(nonce__in=[f"n{i}" for i in range(300)]).update(seen_at=old)
    IdempotencyRecord.objects.bulk_create(
        IdempotencyRecord(scope="member:1", key=f"k{i}", fingerprint="f", status_code=201, body={})
        for i in range(305)
    )
    IdempotencyRecord.objects.filter(key__in=[f"k{i}" for i in range(300)]).update(created_at=old)
    return ()


# --- the jobs ---------------------------------------------------------------------------------------

POINTS_STATE = [
    "SELECT a.member_id, a.balance FROM points_pointsaccount a ORDER BY 1",
    """SELECT a.member_id, e.kind, e.amount, e.balance_after, e.source FROM points_pointsentry e
       JOIN points_pointsaccount a ON a.id = e.account_id ORDER BY 1, 2, 3, 4""",
    "SELECT account_id, amount, remaining, expires_at FROM points_pointslot ORDER BY 1, 2, 3, 4",
    """SELECT l.account_id, al.amount FROM points_pointsallocation al JOIN points_pointslot l ON l.id = al.lot_id
       ORDER BY 1, 2""",
]
NOTIFICATIONS_STATE = [
    "SELECT member_id, kind, dedupe_key, body FROM notifications_notification ORDER BY 1, 2, 3"
]
COUPONS_STATE = [
    "SELECT code, member_id, status, order_no, locked_until FROM coupons_coupon ORDER BY 1",
    """SELECT c.code, e.kind, e.order_no, e.reason FROM coupons_couponevent e
       JOIN coupons_coupon c ON c.id = e.coupon_id ORDER BY 1, 2""",
    "SELECT name, issued_count FROM coupons_coupontemplate ORDER BY 1",
]

JOBS = [
    Job(
        id="points-expiry",
        task="points.expire_due",
        build=points_to_expire,
        gate="points_pointsentry",
        progress="SELECT count(*) FROM points_pointsentry WHERE kind = 'expire'",
        state=POINTS_STATE,
    ),
    Job(
        id="points-reminders",
        task="points.remind_expiring",
        build=points_expiring_soon,
        gate="notifications_notification",
        passes=5,
        progress="SELECT count(*) FROM notifications_notification",
        state=NOTIFICATIONS_STATE,
    ),
    Job(
        id="coupon-expiry",
        task="coupons.expire_due",
        build=coupons_past_validity,
        gate="coupons_couponevent",
        progress="SELECT count(*) FROM coupons_coupon WHERE status = 'expired'",
        state=COUPONS_STATE,
    ),
    Job(
        id="stale-coupon-locks",
        task="coupons.release_stale_locks",
        build=coupons_locked_by_lost_orders,
        gate="coupons_couponevent",
        progress="SELECT count(*) FROM coupons_coupon WHERE status <> 'locked'",
        state=COUPONS_STATE,
    ),
    Job(
        id="coupon-reminders",
        task="coupons.remind_expiring",
        build=coupons_expiring_soon,
        gate="notifications_notification",
        passes=5,
        progress="SELECT count(*) FROM notifications_notification",
        state=NOTIFICATIONS_STATE,
    ),
    Job(
        id="bulk-issue",
        task="coupons.run_bulk_issue",
        build=a_bulk_issue,
        gate="coupons_couponevent",
        progress="SELECT count(*) FROM coupons_coupon",
        rerun="coupons.resume_bulk_issues",
        state=[
            *COUPONS_STATE[2:],
            "SELECT member_id, template_id, status, source, issue_key FROM coupons_coupon ORDER BY 1",
            "SELECT member_id, result FROM coupons_bulkissuetarget ORDER BY 1",
            "SELECT status, total, processed, issued FROM coupons_bulkissue",
            "SELECT count(*), kind, reason FROM coupons_couponevent GROUP BY 2, 3",
        ],
    ),
    Job(
        id="stale-payments",
        task="payments.close_stale",
        build=payments_left_unpaid,
        gate="payments_payment",
        per="ROW",
        passes=10,
        progress="SELECT count(*) FROM payments_payment WHERE status = 'closed'",
        state=[
            "SELECT out_trade_no, status FROM payments_payment ORDER BY 1",
            "SELECT out_trade_no, status FROM stored_value_rechargeorder ORDER BY 1",
        ],
    ),
    Job(
        id="refund-retry",
        task="payments.retry_refunds",
        build=refunds_not_yet_accepted,
        gate="payments_paymentrefund",
        per="ROW",
        passes=10,
        progress="SELECT count(*) FROM payments_paymentrefund WHERE status <> 'pending'",
        state=[
            "SELECT out_refund_no, status, attempts, last_error FROM payments_paymentrefund ORDER BY 1",
            "SELECT out_trade_no, refunded_fen FROM payments_payment ORDER BY 1",
        ],
    ),
    Job(
        id="purge",
        task="loyalty.purge_expired",
        build=housekeeping_due,
        gate="loyalty_idempotencyrecord",
        events="DELETE",
        passes=0,
        progress="SELECT 305 - count(*) FROM loyalty_apinonce",
        state=[
            "SELECT nonce FROM loyalty_apinonce ORDER BY 1",
            "SELECT scope, key FROM loyalty_idempotencyrecord ORDER BY 1, 2",
        ],
    ),
]


# --- the run ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def on_database(name: str):
    """Point this process's Django connection at another database for a while."""
    connection.close()
    original = connection.settings_dict["NAME"]
    connection.settings_dict["NAME"] = name
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original


def run_here(task: str, args: tuple):
    """A run in this process, to the end (what a healthy worker does)."""
    return celery_app.tasks[task].apply(args=args, throw=True).get()


def state_of(job: Job, name: str | None = None) -> list[list[tuple]]:
    return [query(sql, name=name) for sql in job.state]


# Points expiry runs in every test run; all jobs with FULL=1 (tests/faults/conftest.py), ~10 s each.
@pytest.mark.parametrize(
    "job",
    [
        pytest.param(job, id=job.id, marks=[] if job.id == "points-expiry" else [pytest.mark.slow])
        for job in JOBS
    ],
)
def test_a_job_killed_half_way_and_run_again_ends_as_one_clean_run(job, tmp_path):
    celery_app.loader.import_default_modules()
    args = job.build()
    pristine = f"{connection.settings_dict['NAME']}_clean_{uuid.uuid4().hex[:6]}"
    create_database(pristine, template=connection.settings_dict["NAME"])
    try:
        with on_database(pristine):
            run_here(job.task, args)
            assert ledgers_clean()
        clean = state_of(job, pristine)

        install_gate(job.gate, passes=job.passes, per=job.per, events=job.events)
        gate, queue = Gate(), new_queue()
        worker = start_worker(tmp_path, queue)
        try:
            celery_app.send_task(job.task, args, queue=queue)
            half_way = wait_for(
                lambda: gate.waiting() and (job.progress is None or query(job.progress)[0][0] > 0),
                timeout=60,
                interval=0.1,
            )
            activity = query(
                "SELECT pid, state, wait_event_type, wait_event, left(query, 120) FROM pg_stat_activity"
            )
            assert half_way, "\n".join(
                [worker.output(), *map(str, activity), str(job.progress and query(job.progress))]
            )
            orphans = gate.waiting()
            worker.kill()
            # PostgreSQL ends a dead client's session when it notices; here, at once.
            for pid in orphans:
                query("SELECT pg_terminate_backend(%s)", [pid])
            assert wait_for(
                lambda: not set(orphans) & {r[0] for r in query("SELECT pid FROM pg_stat_activity")}
            )
        finally:
            gate.open()
            worker.stop()
            remove_gate(job.gate)
        interrupted = state_of(job)
        assert interrupted != clean, "the kill came after the job had finished"

        run_here(job.rerun, ()) if job.rerun else run_here(job.task, args)

        assert state_of(job) == clean
        assert ledgers_clean()
    finally:
        drop_database(pristine)
