"""A task end to end: enqueued on commit, through the real broker, run by a real worker."""

import time
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from loyalty.celery import app as celery_app
from loyalty.health import health_report
from loyalty.models import ApiNonce
from loyalty.tasks import purge_expired
from tests.faults.helpers import start_worker, wait_for


@pytest.fixture
def real_worker(monkeypatch, tmp_path):
    # A queue of our own, so a demo worker sharing the broker never takes our task.
    queue = f"test-{uuid.uuid4().hex[:10]}"
    worker = start_worker(tmp_path, queue)  # on the test database, not the demo one
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    try:
        yield queue
    finally:
        worker.stop()


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

    assert wait_for(lambda: not ApiNonce.objects.filter(nonce="old-nonce-1").exists(), timeout=30)
    assert list(ApiNonce.objects.values_list("nonce", flat=True)) == ["fresh-nonce"]
    assert wait_for(lambda: health_report()[0]["worker"]["ok"], timeout=30)
