"""The system behind a real PgBouncer in transaction pooling: many clients over few server sessions.

The whole suite runs through a PgBouncer of its own (tests/conftest.py), with room for a session per
client.  Here a second one lends just ``SESSIONS`` server sessions to every client, so each client's
transactions land on whichever session is free: what a pooler does in front of several web nodes.
The hot statements run plain (``DB_POOLER=transaction``), the spends and the checkout commits stay
exact under contention, and a job's claim still keeps a second trigger out.
"""

from __future__ import annotations

import contextlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty import locks, pgbouncer
from loyalty.locks import Space
from orders import services as order_services
from orders.quote import compute_quote
from points import ledger as points_ledger
from tests import pooling
from tests.concurrency import run_concurrently
from tests.factories import MemberFactory, RechargeFactory
from tests.helpers import assert_ledgers_consistent, points_of
from tests.orders.helpers import basket
from tests.points.helpers import balance, earn, spend
from tests.stored_value.helpers import parts

SESSIONS = 4  # server sessions the small pool lends
CLIENTS = 12  # client connections (threads) sharing them

pytestmark = [
    pytest.mark.skipif(pgbouncer.binary() is None, reason="pgbouncer is not installed (make pgbouncer)"),
    pytest.mark.xdist_group("many-connections"),
]


@pytest.fixture(scope="module")
def small_pool(django_db_setup, django_db_blocker):
    """A PgBouncer of this module's own, ``SESSIONS`` server sessions for every client, in front of
    the server the test database is on."""
    bouncer = django_db_setup
    server = bouncer.direct if bouncer is not None else pooling.here()
    from django.db import connection

    db = connection.settings_dict
    with pgbouncer.PgBouncer(
        host=server["host"], port=server["port"], user=db["USER"], password=db["PASSWORD"], pool_size=SESSIONS
    ) as pool:
        yield pool


@pytest.fixture
def through_small_pool(small_pool):
    """This test's connections (every thread's) go through the small pool, statements plain."""
    before = pooling.here()
    pooling.route(host=small_pool.host, port=small_pool.port, pooler="transaction")
    try:
        yield small_pool
    finally:
        pooling.route(**before)


def server_sessions(pool) -> int:
    """Server sessions the pool has open to the test database."""
    name = connection.settings_dict["NAME"]
    return sum(1 for row in pooling.admin(pool, "SHOW SERVERS") if row["database"] == name)


def test_the_suite_runs_through_a_pgbouncer_in_transaction_pooling(django_db_setup):
    bouncer = django_db_setup
    if bouncer is None:
        pytest.skip("this run goes direct (TEST_PGBOUNCER=0 or DB_POOLER set)")
    from django.conf import settings

    config = {row["key"]: row["value"] for row in pooling.admin(bouncer, "SHOW CONFIG")}
    assert config["pool_mode"] == "transaction"
    assert connection.settings_dict["HOST"] == bouncer.host and settings.DB_POOLER == "transaction"


@pytest.mark.django_db(transaction=True)
def test_a_session_setting_outlives_its_client_on_the_pooled_session_but_set_local_does_not(small_pool):
    """Why nothing may SET a session setting behind the pooler (loyalty.sql.commits_unflushed): the
    next client's transaction runs on the same server session and inherits it."""
    name = connection.settings_dict["NAME"]
    with (
        contextlib.closing(small_pool.connect(name)) as first,
        contextlib.closing(small_pool.connect(name)) as second,
    ):
        first.autocommit = second.autocommit = True
        with first.cursor() as cur, second.cursor() as other:
            cur.execute("SELECT pg_backend_pid()")
            other.execute("SELECT pg_backend_pid()")
            assert cur.fetchone() == other.fetchone()  # one idle server session serves both in turn

            cur.execute("BEGIN; SET LOCAL work_mem = '3MB'; COMMIT")
            other.execute("SHOW work_mem")
            assert other.fetchone()[0] != "3MB"

            cur.execute("SET work_mem = '7MB'")
            other.execute("SHOW work_mem")
            assert other.fetchone()[0] == "7MB"
            cur.execute("RESET work_mem")


@pytest.mark.django_db(transaction=True)
def test_earns_and_spends_through_the_pooler_run_plain_statements_and_stay_exact(member, through_small_pool):
    earn(member, 100)

    with CaptureQueriesContext(connection) as queries:
        spend(member, 30)
    statements = [q["sql"] for q in queries.captured_queries]

    assert statements[0] == "BEGIN" and statements[-1] == "COMMIT" and len(statements) == 5
    assert not [s for s in statements if s.startswith(("PREPARE", "EXECUTE"))]
    assert balance(member) == 70
    again = spend(member, 30)  # the same key: replayed, on whichever session is free
    assert again.replayed and balance(member) == 70
    assert_ledgers_consistent()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("default_rules")
def test_many_clients_spending_one_account_over_few_sessions_never_overspend(through_small_pool):
    member = MemberFactory()
    earn(member, 100, key="seed")

    results, codes = run_concurrently(
        lambda i: points_ledger.points_spend(member_id=member.pk, amount=3, idempotency_key=f"s{i}"),
        40,
        max_threads=CLIENTS,
    )

    assert len(results) == 33 and codes == ["insufficient_points"] * 7
    assert balance(member) == 1
    assert 1 <= server_sessions(through_small_pool) <= SESSIONS
    assert_ledgers_consistent()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("default_rules")
def test_checkouts_committed_by_many_clients_over_few_sessions_each_commit_once(through_small_pool):
    members = MemberFactory.create_batch(6)
    for m in members:
        RechargeFactory(member=m, amount_fen=10_000)
        points_ledger.points_earn(
            member_id=m.pk, amount=5_000, idempotency_key="s", source="t", expires_at=None
        )
    balances = {m.pk: sum(parts(m)) for m in members}
    b = basket(("A", 20_000, 1), points=2_000, stored_value_fen=5_000, coupon_ids=[])
    quotes = {m.pk: compute_quote(member_id=m.pk, basket=b).fingerprint for m in members}

    def commit(i):
        m = members[i % len(members)]  # each member's order committed twice at once: one order
        return order_services.order_commit(
            member_id=m.pk, order_no=f"PB{m.pk}", basket=b, quote_hash=quotes[m.pk]
        ).order.order_no

    results, codes = run_concurrently(commit, 2 * len(members), max_threads=CLIENTS)

    assert not codes and sorted(set(results)) == sorted(f"PB{m.pk}" for m in members)
    for m in members:
        assert points_of(m) == 3_000 and sum(parts(m)) == balances[m.pk] - 5_000
    assert_ledgers_consistent()


@pytest.mark.django_db(transaction=True)
def test_a_job_claim_keeps_out_a_second_trigger_behind_the_pooler(through_small_pool):
    """The claim's lock is held in an open transaction, which the pooler keeps on one session."""
    assert locks.try_hold(Space.JOB, 42)
    try:
        for _ in range(3):  # other clients, on whichever session the pool lends
            assert not locks.try_hold(Space.JOB, 42)
    finally:
        locks.let_go(Space.JOB, 42)
    assert locks.try_hold(Space.JOB, 42)
    locks.let_go(Space.JOB, 42)
