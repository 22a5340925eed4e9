"""Split queues: value work while a bulk issue to every member runs, through real Celery workers.

Each round starts real workers (``celery -A loyalty worker``, one process each) on a fresh copy of
the data, routed by the project's own table (``loyalty/queues.py``) with every queue renamed to one
of this run's own, so a demo worker sharing the Redis never takes a bench task (nor a bench worker a
demo one).  In a *loaded* round a bulk issue to every member is created (its task goes to the bulk
worker, as in production) and the measurement starts once its first chunk has committed; an *idle*
round measures the same without it.  Measured, one after the other at a steady pace:

* **payment-notification crediting**: WeChat Pay's signed notification of a paid recharge handled
  as the notify endpoint handles it (``payments.services.payment_handle_notification``: verify,
  lock, credit the stored value, record the notification), timed here.  Crediting is not a task;
  the bulk issue reaches it only through the database and the CPU it shares;
* **refund submission on the value queue**: ``payments.submit_refund`` sent for a booked refund,
  timed from the send to the refund row's last update by the value worker (``updated_at``).

``split``: a value worker (``-Q value``) and a bulk worker (``-Q bulk,celery``), as
``docker-compose.yml`` runs them.  ``single`` (the contrast, before the split): every task on one
queue and one worker process, which is what one queue with N processes becomes once N bulk tasks
are in flight (a bulk issue, the night's reports, RFM, reminders): the refund waits for them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from unittest import mock
from urllib.parse import quote

from bench.common import REPO, Figure, Harness, benchmark, percentile
from bench.coupons import TEMPLATE_ID
from bench.coupons import _load as load_members_and_template

APP_MODULES = (
    "coupons.services",
    "payments.services",
    "stored_value.recharges",
    "payments.tasks",
    "loyalty.management.commands.verify_ledgers",
)
PAIRS = 150  # notifications credited and refunds submitted per round
PACE = 0.1  # seconds between two pairs: 10 per second, well under what one value worker does
AMOUNT_FEN = 10_000
BULK_START_TIMEOUT = 300.0


# --- data ----------------------------------------------------------------------------------------


def _load(members: int) -> None:
    """Members 1..N with the bulk issue's coupon template; members 1..PAIRS each with a recharge
    awaiting payment; members PAIRS+1..2×PAIRS each with a paid recharge and a refund booked, not
    yet submitted (its task is not sent here)."""
    from django.contrib.auth.models import User

    from members.models import Member
    from payments import services as payments
    from payments.models import Payment
    from stored_value import recharges
    from stored_value.models import MAX_FEN, PlanKind, RechargePlan

    load_members_and_template(members)
    plan = RechargePlan.objects.create(name="bench", kind=PlanKind.OPEN, min_fen=1, max_fen=MAX_FEN)
    finance = User.objects.create(username="bench-finance", is_staff=True)
    for member in Member.objects.filter(pk__lte=2 * PAIRS).order_by("pk"):
        order = recharges.recharge_create(member=member, plan_id=plan.pk, amount_fen=AMOUNT_FEN)
        if member.pk <= PAIRS:
            continue
        payments.payment_simulate_pay(payment=Payment.objects.get(out_trade_no=order.out_trade_no))
        with mock.patch("payments.services.enqueue_on_commit"):
            recharges.recharge_refund(
                order_id=order.pk, actor_id=finance.pk, reason="bench", idempotency_key=f"bench-{member.pk}"
            )


# --- workers -------------------------------------------------------------------------------------


def _database_url(dbname: str) -> str:
    from django.db import connection

    db = connection.settings_dict
    auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{quote(db['HOST'], safe='')}{port}/{dbname}"


class Worker:
    """``celery -A loyalty worker -Q <queues>``, one process (solo pool), on database ``dbname``."""

    def __init__(self, dbname: str, queues: list[str], label: str):
        from django.conf import settings

        self.name = f"bench-{label}-{uuid.uuid4().hex[:6]}"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "loyalty.settings.local",
            "DEBUG": "false",
            "DATABASE_URL": _database_url(dbname),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "PYTHONPATH": str(REPO),
        }
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "loyalty", "worker", "--pool=solo"),
                *("-Q", ",".join(queues), "-n", f"{self.name}@%h", "--loglevel=WARNING"),
                *("--without-mingle", "--without-gossip", "--without-heartbeat"),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        from loyalty.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            replies = app.control.ping(timeout=0.5)
            if any(node.startswith(f"{self.name}@") for reply in replies for node in reply):
                return
        raise RuntimeError(f"worker {self.name} did not start: {self.log_tail()}")

    def log_tail(self, chars: int = 2000) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-chars:]

    def kill(self) -> None:
        """SIGKILL: the copy it works on is dropped next, its unfinished bulk task with it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=15)


@contextlib.contextmanager
def routed_to(rename: dict[str, str]):
    """Route by ``loyalty/queues.py`` with each queue renamed (``rename``: project queue -> this run's)."""
    from loyalty.celery import app
    from loyalty.queues import QUEUE_OF_TASK

    saved = app.conf.task_routes, app.conf.task_always_eager
    app.conf.task_routes = {task: {"queue": rename[queue]} for task, queue in QUEUE_OF_TASK.items()}
    app.conf.task_always_eager = False
    app.amqp.flush_routes()
    app.amqp.router = app.amqp.Router()
    try:
        yield
    finally:
        app.conf.task_routes, app.conf.task_always_eager = saved
        app.amqp.flush_routes()
        app.amqp.router = app.amqp.Router()
        with app.connection_for_write() as conn:
            for queue in set(rename.values()):
                with contextlib.suppress(Exception):  # never declared: nothing to purge
                    conn.default_channel.queue_purge(queue)


# --- a round -------------------------------------------------------------------------------------


def _round(h: Harness, template: str, setup: str, loaded: bool) -> dict:
    """One round on a fresh copy: crediting and refund latencies in ms, and whether the bulk issue
    was still running when the last pair had been sent."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from coupons import services as coupons
    from coupons.models import BulkIssue
    from payments import services as payments
    from payments.models import Payment, PaymentRefund
    from payments.tasks import submit_refund

    tag = uuid.uuid4().hex[:8]
    if setup == "split":
        rename = {
            "value": f"bench-value-{tag}",
            "bulk": f"bench-bulk-{tag}",
            "celery": f"bench-default-{tag}",
        }
        worker_queues = {"value": [rename["value"]], "bulk": [rename["bulk"], rename["celery"]]}
    else:
        rename = dict.fromkeys(("value", "bulk", "celery"), f"bench-all-{tag}")
        worker_queues = {"all": [f"bench-all-{tag}"]}

    with h.copy_of(template) as dbname, routed_to(rename):
        Payment.objects.filter(status="created").update(expires_at=timezone.now() + timedelta(hours=2))
        # WeChat Pay's notifications of the members' payments, signed, not delivered yet.
        notifications = [
            payments.payment_simulate_pay(payment=payment, deliver=False)
            for payment in Payment.objects.filter(status="created").order_by("pk")
        ]
        refunds = list(
            PaymentRefund.objects.filter(status="pending").order_by("pk").values_list("pk", flat=True)
        )
        assert len(notifications) == len(refunds) == PAIRS, (len(notifications), len(refunds))
        workers = [Worker(dbname, queues, label) for label, queues in worker_queues.items()]
        try:
            for worker in workers:
                worker.wait_ready()
            bulk = None
            if loaded:
                operator = User.objects.create(username=f"bench-{tag}")
                bulk = coupons.bulk_issue_create(
                    template_id=TEMPLATE_ID, member_ids=range(1, h.scale.members + 1), actor_id=operator.pk
                )
                deadline = time.monotonic() + BULK_START_TIMEOUT
                while not BulkIssue.objects.filter(pk=bulk.pk, issued__gt=0).exists():
                    if time.monotonic() > deadline:
                        raise RuntimeError("the bulk issue never started: " + workers[-1].log_tail())
                    time.sleep(0.1)
            sent: dict[int, float] = {}
            credit_ms = []
            started = time.monotonic()
            for i, ((headers, body), refund) in enumerate(zip(notifications, refunds, strict=True)):
                sent[refund] = time.time()
                submit_refund.apply_async((refund,), ignore_result=True)
                t0 = time.perf_counter()
                payments.payment_handle_notification(headers=headers, body=body)
                credit_ms.append((time.perf_counter() - t0) * 1000)
                time.sleep(max(0.0, started + (i + 1) * PACE - time.monotonic()))
            bulk_running = bulk is not None and BulkIssue.objects.get(pk=bulk.pk).status == "running"
            # The single queue's refunds wait for the whole bulk issue: give them its time.
            deadline = time.monotonic() + (1800 if setup == "single" and loaded else 120)
            while PaymentRefund.objects.filter(status="pending").exists():
                if time.monotonic() > deadline:
                    raise RuntimeError("refunds never submitted: " + workers[0].log_tail())
                time.sleep(0.2)
            done = dict(PaymentRefund.objects.filter(pk__in=refunds).values_list("pk", "updated_at"))
            refund_ms = [(done[pk].timestamp() - sent[pk]) * 1000 for pk in refunds]
            bulk_issued = BulkIssue.objects.get(pk=bulk.pk).issued if bulk is not None else 0
        finally:
            for worker in workers:
                worker.kill()
        _verify(refunds)
    return {
        "credit_ms": credit_ms,
        "refund_ms": refund_ms,
        "bulk_running": bulk_running,
        "bulk_issued": bulk_issued,
    }


def _verify(refunds: list[int]) -> None:
    """Every recharge credited once, every refund accepted, and the stored-value and coupon checks of
    ``verify_ledgers`` clean (the bulk issue's last chunk died with its worker: rolled back whole)."""
    from django.db import connection

    from loyalty.management.commands.verify_ledgers import all_checks, run_check
    from payments.models import Payment, PaymentRefund

    credited = Payment.objects.filter(status="paid", purpose="recharge").count()
    accepted = PaymentRefund.objects.filter(pk__in=refunds, status="succeeded").count()
    if (credited, accepted) != (2 * PAIRS, PAIRS):
        raise RuntimeError(f"{credited} recharges paid (expected {2 * PAIRS}), {accepted} refunds accepted")
    violations = []
    with connection.cursor() as cur:
        for description, sql in all_checks():
            if description.startswith(("stored value", "coupons:")):
                violations += [(description, row) for row in run_check(cur, sql)]
    if violations:
        raise RuntimeError(f"{len(violations)} ledger violation(s), e.g. {violations[:3]}")


def _describe(label: str, r: dict) -> str:
    p = percentile
    return (
        f"{label}: crediting p50 {p(r['credit_ms'], 50):.1f} / p99 {p(r['credit_ms'], 99):.1f} ms; "
        f"refund enqueue→submitted p50 {p(r['refund_ms'], 50):.0f} / p99 {p(r['refund_ms'], 99):.0f} ms"
        + (
            f"; bulk issue {'still running' if r['bulk_running'] else 'FINISHED before the last pair'}, "
            f"{r['bulk_issued']:,} issued by the end"
            if r["bulk_issued"] or r["bulk_running"]
            else ""
        )
    )


@benchmark("queues.crediting")
def crediting(h: Harness) -> list[Figure]:
    """Payment-notification crediting and value-queue refunds while a bulk issue to every member runs (vs without)."""
    members = h.scale.members
    template = h.template(f"queues_{members}", lambda: _load(members))
    rounds: dict[bool, list[dict]] = {True: [], False: []}
    for round_ in range(h.scale.repeats):
        for loaded in (round_ % 2 == 0, round_ % 2 != 0):  # alternate which side goes first
            result = _round(h, template, "split", loaded)
            rounds[loaded].append(result)
            h.note(
                _describe(
                    f"split queues, {'during' if loaded else 'without'} the bulk issue, round {round_ + 1}",
                    result,
                )
            )
    single = _round(h, template, "single", True)
    h.note(
        _describe(f"contrast: one queue, one worker process, during the bulk issue to {members:,}", single)
    )

    def median_p99(loaded: bool, key: str) -> float:
        return statistics.median(percentile(r[key], 99) for r in rounds[loaded])

    def spread(loaded: bool, key: str) -> str:
        return ", ".join(f"{percentile(r[key], 99):.1f}" for r in rounds[loaded])

    h.note(
        f"p99 per round (split): crediting during {spread(True, 'credit_ms')} ms, without {spread(False, 'credit_ms')} ms; "
        f"refunds during {spread(True, 'refund_ms')} ms, without {spread(False, 'refund_ms')} ms"
    )
    return [
        Figure(
            f"payment-notification crediting p99 during a bulk issue to {members:,} members (vs without), split queues, ms",
            median_p99(True, "credit_ms"),
            median_p99(False, "credit_ms"),
            "ms",
            "<=",
            1.5,
            missed=(
                "Crediting runs in the notify request, not on a queue: the bulk issue reaches it through the "
                "CPU and the database it shares with it (on 2 shared cores, the bulk worker, its PostgreSQL "
                "backend and the crediting compete for the same CPU). More cores, or the bulk workers on "
                "machines of their own, close it; the queue split cannot."
            ),
        ),
        Figure(
            f"refund submission p99, enqueue to done on the value queue, during a bulk issue to {members:,} members "
            "(vs without), ms",
            median_p99(True, "refund_ms"),
            median_p99(False, "refund_ms"),
            "ms",
            "<=",
            1.5,
            missed=(
                "The value worker does not wait for the bulk issue (the contrast in the notes shows what one "
                "queue did), but on 2 shared cores it competes with the bulk worker and its backend for CPU."
            ),
        ),
    ]
