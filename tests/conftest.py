import importlib

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from loyalty import embedded, pgbouncer
from loyalty import services as platform_services
from tests import pooling
from tests.factories import MemberFactory
from tests.fakes.wechat_server import FakeWechat
from tests.helpers import assert_ledgers_consistent, client_for

_points_defaults = importlib.import_module("points.migrations.0002_ledger_triggers_and_default_rules")


def pytest_unconfigure(config):
    """The run's controller gives the embedded servers back (settings/test.py started or joined them):
    the last process using them stops the ones ensure_services started.  xdist workers inherit the
    URLs, so they never hold them and never stop them under each other."""
    if not hasattr(config, "workerinput"):
        embedded.release_services()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database is created direct; then every test runs through a real PgBouncer in
    transaction pooling (``DB_POOLER=transaction``), one per test process, stopped before the
    database is dropped.  Tests of what needs a session ask for ``direct_database``.

    Commits of the test database are not waited on to reach the disk (``synchronous_commit`` off
    for the database): no test crashes PostgreSQL, and a suite of many short committed
    transactions would otherwise wait on a WAL flush for each."""
    with django_db_blocker.unblock():
        _commits_unflushed()
    if not pooling.through_pgbouncer():
        yield None
        return
    from django.db import connection

    db = connection.settings_dict
    bouncer = pgbouncer.PgBouncer(host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"])
    bouncer.direct = {**pooling.here(), "pooler": ""}
    with django_db_blocker.unblock():
        pooling.route(host=bouncer.start().host, port=bouncer.port, pooler="transaction")
    try:
        yield bouncer
    finally:
        with django_db_blocker.unblock():
            pooling.route(**bouncer.direct)
        bouncer.stop()


def _commits_unflushed() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER DATABASE {connection.ops.quote_name(connection.settings_dict['NAME'])} "
            "SET synchronous_commit TO off"
        )
    connection.close()  # the setting applies to sessions opened after it


@pytest.fixture
def direct_database(django_db_setup):
    """This test's connections go straight to PostgreSQL, with statements prepared per connection:
    for the tests of what needs a session.  Only for transactional tests (``transaction=True``): the
    open connection is replaced."""
    bouncer = django_db_setup
    if bouncer is None:
        if pooling.here()["pooler"] == "transaction":
            pytest.skip(
                "DATABASE_URL goes through a transaction pooler (DB_POOLER): this test needs a session"
            )
        yield
        return
    pooling.route(**bouncer.direct)
    try:
        yield
    finally:
        pooling.route(host=bouncer.host, port=bouncer.port, pooler="transaction")


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def member(db):
    return MemberFactory()


@pytest.fixture
def member_api(member):
    return client_for(member)


@pytest.fixture
def fake_wechat(settings):
    fake = FakeWechat(app_id=settings.WECHAT_APP_ID, app_secret=settings.WECHAT_APP_SECRET).start()
    settings.WECHAT_API_BASE = fake.url
    settings.WECHAT_TIMEOUT_SECONDS = 0.5
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    """Each test starts with no cached throttles or WeChat access token.

    Only this process's keys are deleted (the test settings give each process
    its own key prefix): ``cache.clear()`` would FLUSHDB a Redis that the demo
    or another test process may share.
    """
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(f"{settings.CACHES['default']['KEY_PREFIX']}:*"))
    if keys:
        client.delete(*keys)
    yield


@pytest.fixture
def server_client(db):
    client, secret = platform_services.api_client_create(name="Order system")
    return client, secret


@pytest.fixture
def default_rules(db):
    """Transactional tests flush the tables, taking the migration's default earning rules with them."""
    _points_defaults.create_defaults(apps, None)


@pytest.fixture
def ledgers_stay_consistent():
    """After the test, ``verify_ledgers`` finds nothing (use with ``pytest.mark.usefixtures``)."""
    yield
    assert_ledgers_consistent()
