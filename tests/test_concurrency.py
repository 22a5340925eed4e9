"""The concurrency tests' helper (tests/concurrency.py): no thread fails unseen, and a busy server
narrows the storm instead of refusing part of it."""

import threading

import pytest
from django.db import connection, connections
from django.db.utils import OperationalError

from loyalty.errors import NotFound
from members.models import Member
from tests import concurrency
from tests.concurrency import in_thread, run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_thread_that_cannot_connect_fails_the_test(monkeypatch):
    """As when the server answers "too many clients" to one connection of the storm."""
    wrapper = type(connections["default"])
    real, lock, refused = wrapper.get_new_connection, threading.Lock(), []

    def one_refused(self, params):
        with lock:
            if threading.current_thread() is not threading.main_thread() and not refused:
                refused.append(True)
                raise OperationalError("FATAL:  sorry, too many clients already")
        return real(self, params)

    monkeypatch.setattr(wrapper, "get_new_connection", one_refused)

    with pytest.raises(pytest.fail.Exception, match="too many clients") as failed:
        run_concurrently(lambda i: Member.objects.count(), 8)

    assert refused and "1 of 8 threads failed" in str(failed.value)


def test_a_call_that_raises_fails_the_test_with_its_traceback():
    def work(i):
        if i == 5:
            raise RuntimeError("a bug in call 5")
        return Member.objects.count()

    with pytest.raises(pytest.fail.Exception, match=r"(?s)call 5.*RuntimeError: a bug in call 5"):
        run_concurrently(work, 8)


def test_refusals_are_counted_for_the_test_in_the_order_of_the_calls():
    def work(i):
        if i % 2:
            raise NotFound()
        return i

    results, codes = run_concurrently(work, 10)

    assert results == [0, 2, 4, 6, 8] and codes == ["not_found"] * 5


def test_a_busy_server_narrows_the_storm_but_runs_every_call(monkeypatch):
    monkeypatch.setattr(concurrency, "free_connections", lambda: (3, "three free"))
    threads = set()

    def work(i):
        threads.add(threading.get_ident())
        return Member.objects.count()

    results, codes = run_concurrently(work, 20)

    assert len(results) == 20 and codes == [] and len(threads) <= 3


def test_a_server_without_room_for_two_connections_skips_the_test_saying_why(monkeypatch):
    monkeypatch.setattr(concurrency, "free_connections", lambda: (1, "max_connections 100, 99 in use"))

    with pytest.raises(pytest.skip.Exception, match="1 connections free.*99 in use"):
        run_concurrently(lambda i: i, 8)


def test_the_storm_fits_in_the_connections_the_server_has_free():
    free, reckoning = concurrency.free_connections()

    assert "max_connections" in reckoning
    with connection.cursor() as cur:
        cur.execute("SHOW max_connections")
        assert 0 < free < int(cur.fetchone()[0])


def test_a_thread_of_its_own_hands_its_exception_to_the_test():
    def fails():
        Member.objects.get(pk=-1)

    with pytest.raises(Member.DoesNotExist):
        in_thread(fails).result(timeout=30)
