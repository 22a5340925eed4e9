"""The read replica for real: a primary and a replica streaming from it (tests/replica_pair.py, the
embedded server's binaries, ``pg_basebackup``), with Django's two aliases pointed at them.

Replica-fed pages (lists, the dashboard, exports) read the replicated rows; with the replica's replay
paused, money still moves through the APIs, the member reads their own writes at once, nothing of
that touches the replica, and a list page says its data is older than the write.
"""

from datetime import datetime

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from loyalty import config
from tests.factories import MemberFactory, RechargeFactory
from tests.helpers import client_for, signed_request
from tests.replica_pair import ReplicatedPair, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
    # One worker starts the pair; the module's tests share it.
    pytest.mark.xdist_group("replica"),
    pytest.mark.usefixtures("default_rules"),
]

ALIASES = ("default", "replica")
REACH = ("HOST", "PORT", "NAME", "USER", "PASSWORD")

BASKET = {
    "lines": [{"sku": "TEA", "name": "龙井", "category": "tea", "unit_price_fen": 160_000, "quantity": 1}],
    "stored_value_fen": 160_000,
}


def _point(reach: dict[str, dict]):
    """Django's aliases to other servers: connections closed, then their settings changed in place (every
    thread's connection shares them).  The per-process configuration copies came from the old ones."""
    for alias in ALIASES:
        connections[alias].close()
        connections[alias].settings_dict.update(reach[alias])
    config._copies.clear()


@pytest.fixture(scope="module")
def pair(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        saved = {alias: {key: connections[alias].settings_dict[key] for key in REACH} for alias in ALIASES}
        servers = ReplicatedPair().start(source=connections["default"].settings_dict)
        try:
            _point(
                {
                    "default": servers.settings(servers.primary_port),
                    "replica": servers.settings(servers.replica_port),
                }
            )
            yield servers
        finally:
            _point(saved)
            servers.stop()


def _one(alias: str, statement: str, params=()):
    with connections[alias].cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchone()[0]


def _written_lsn():
    return _one("default", "SELECT pg_current_wal_lsn()::text")


def caught_up():
    """Wait until the replica has replayed everything committed on the primary so far."""
    lsn = _written_lsn()
    wait_until(lambda: _one("replica", "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn]), what="replay")


def received():
    """Wait until the replica has received (not necessarily replayed) everything written so far."""
    lsn = _written_lsn()
    wait_until(lambda: _one("replica", "SELECT pg_last_wal_receive_lsn() >= %s::pg_lsn", [lsn]), what="WAL")


@pytest.fixture
def replica(pair):
    caught_up()
    yield
    _one("replica", "SELECT pg_wal_replay_resume()::text")


def pause_replay():
    _one("replica", "SELECT pg_wal_replay_pause()::text")
    wait_until(lambda: _one("replica", "SELECT pg_get_wal_replay_pause_state()") == "paused", what="pause")


def as_of(response) -> datetime:
    """The time the page's 数据截至 gives, to the microsecond (its ``<time datetime>``)."""
    html = response.content.decode()
    assert "数据截至" in html
    return datetime.fromisoformat(html.split('class="lo-as-of"')[1].split('datetime="')[1].split('"')[0])


@pytest.mark.usefixtures("replica")
def test_the_replica_is_a_standby_and_list_pages_dashboard_and_exports_read_the_replicated_rows(admin_client):
    member = MemberFactory(nickname="复制来的会员")
    RechargeFactory(member=member, amount_fen=50_000)
    caught_up()

    with CaptureQueriesContext(connections["replica"]) as on_replica:
        members = admin_client.get(reverse("admin:members_member_changelist"))
        dashboard = admin_client.get(reverse("admin:analytics_dailymetrics_changelist"))
        export = admin_client.get(reverse("admin:stored_value_storedvalueentry_export"))
        exported = b"".join(export.streaming_content).decode()

    assert _one("replica", "SELECT pg_is_in_recovery()") is True
    assert members.status_code == 200 and "复制来的会员" in members.content.decode()
    assert dashboard.status_code == 200 and export.status_code == 200
    assert f"test-{member.pk}" in exported or str(member.pk) in exported
    read = " ".join(q["sql"] for q in on_replica.captured_queries)
    for table in ("members_member", "analytics_dailymetrics", "stored_value_storedvalueentry"):
        assert table in read, table
    # Who the operator is and what they may do: from the primary.
    assert 'FROM "auth_user"' not in read and 'FROM "django_session"' not in read


@pytest.mark.usefixtures("replica")
def test_with_replay_paused_money_moves_and_the_member_reads_their_own_writes_while_lists_show_older_data(
    admin_client, api, server_client
):
    member = MemberFactory()
    RechargeFactory(member=member, amount_fen=150_000, bonus_fen=15_000)
    member_api = client_for(member)
    client, secret = server_client
    caught_up()
    pause_replay()
    written = timezone.now()

    with CaptureQueriesContext(connections["replica"]) as on_replica:
        quote = signed_request(
            api, client, secret, "POST", "/api/v1/server/checkout/quote", {**BASKET, "member_id": member.pk}
        )
        committed = signed_request(
            api, client, secret, "POST", "/api/v1/server/orders",
            {**BASKET, "member_id": member.pk, "order_no": "RP-1", "quote_hash": quote.json()["fingerprint"]},
        )  # fmt: skip
        balance = member_api.get("/api/v1/stored-value")
        checked_in = member_api.post("/api/v1/points/check-in", HTTP_IDEMPOTENCY_KEY="replica-check-in")
        points = member_api.get("/api/v1/points")
        orders = member_api.get("/api/v1/orders")

    assert quote.status_code == 200, quote.content
    assert committed.status_code == 201, committed.content
    assert balance.json()["balance_fen"] == 5_000  # 1,650.00 less the 1,600.00 just paid
    assert checked_in.status_code in (200, 201), checked_in.content
    assert points.json()["balance"] > 0
    assert [o["order_no"] for o in orders.json()["results"]] == ["RP-1"]
    assert on_replica.captured_queries == []  # nothing that moves value or answers a member reads it

    received()  # the replica has the commit in hand, but has not applied it
    stale = admin_client.get(reverse("admin:orders_order_changelist"))
    assert "RP-1" not in stale.content.decode()
    assert as_of(stale) < written

    _one("replica", "SELECT pg_wal_replay_resume()::text")
    caught_up()
    fresh = admin_client.get(reverse("admin:orders_order_changelist"))
    assert "RP-1" in fresh.content.decode()
    assert as_of(fresh) >= written
