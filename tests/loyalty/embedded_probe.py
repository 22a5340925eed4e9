"""Run only by tests/loyalty/test_embedded.py, in a pytest of its own (``-n 2``) on a fresh data dir.

Not named ``test_*``: the suite never collects it.  Each test uses both embedded servers from its
own xdist worker, a while, so the two workers use them at the same time.
"""

import os
import time

import psycopg2
import redis


def use_both_servers():
    with psycopg2.connect(os.environ["DATABASE_URL"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    assert redis.Redis.from_url(os.environ["REDIS_URL"]).ping()
    time.sleep(0.5)


def test_one_worker_uses_the_servers():
    use_both_servers()


def test_the_other_worker_uses_them_too():
    use_both_servers()
