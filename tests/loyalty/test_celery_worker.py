"""A task end to end: enqueued on commit, through the real broker, run by a real worker."""

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from loyalty.celery import app as celery_app
from loyalty.health import health_report
from loyalty.models import ApiNonce
from loyalty.tasks import purge_expired


def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{quote(db['HOST'], safe='')}{port}/{db['NAME']}"


def _wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def real_worker(monkeypatch):
    # A queue of our own, so a demo worker sharing the broker never takes our task.
    queue = f"test-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "loyalty.settings.test",
        "DATABASE_URL": _database_url(),  # the test database, not the demo one
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "loyalty",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=WARNING",
        ],
        env=env,
        cwd=settings.BASE_DIR,
    )
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    try:
        yield queue
    finally:
        worker.terminate()
        worker.wait(timeout=20)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_task_enqueued_on_commit_runs_in_a_real_worker(real_worker, server_client):
    client, _ = server_client
    stale = timezone.now() - timedelta(hours=1)
    ApiNonce.objects.create(client=client, nonce="old-nonce-1")
    ApiNonce.objects.update(seen_at=stale)

    with transaction.atomic():
        ApiNonce.objects.create(client=client, nonce="fresh-nonce")
        purge_expired.apply_async_on_commit(queue=real_worker)
        time.sleep(0.5)
        assert ApiNonce.objects.filter(nonce="old-nonce-1").exists()  # nothing sent before commit

    assert _wait_for(lambda: not ApiNonce.objects.filter(nonce="old-nonce-1").exists())
    assert list(ApiNonce.objects.values_list("nonce", flat=True)) == ["fresh-nonce"]
    assert _wait_for(lambda: health_report()[0]["worker"]["ok"])
