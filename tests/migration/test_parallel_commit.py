"""Several committers on one import at once, on real connections: the serial result, and a killed one's
chunk finished by another."""

import threading

import pytest

from coupons.models import CouponTemplate
from members.models import Member
from migration import imports
from migration.models import ImportChunk, JobStatus, RowStatus
from tests.concurrency import in_thread, run_concurrently
from tests.helpers import assert_ledgers_consistent
from tests.migration.helpers import committed, dry_run, member_row
from tests.migration.test_imports import full_row, ledgers, normalised

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("many-connections")]


@pytest.fixture
def enqueued(monkeypatch):
    """The committer tasks a start or a resume sends, recorded, not run: the test runs them itself."""
    sent = []
    monkeypatch.setattr(imports, "enqueue_on_commit", lambda task, *args: sent.append((task, *args)))
    return sent


def test_two_committers_at_once_post_exactly_what_one_posts(operator, catalogue, settings, enqueued):
    """Rows of both paths, sharing a coupon template and tags: the two committers take turns on the
    template, never deadlock, and the ledgers are the serial run's."""
    settings.MIGRATION_COMMIT_CHUNK = 2

    def rows(prefix, phone):
        return [
            full_row(n, 会员ID=f"{prefix}{n:08d}", 手机号=f"{phone}{n:08d}")
            if n % 3 == 0
            else member_row(n, 会员ID=f"{prefix}{n:08d}", 手机号=f"{phone}{n:08d}", 标签="老客")
            for n in range(1, 13)
        ]

    serial = committed(dry_run(rows("oOLD", "139"), operator=operator))
    expected = normalised(ledgers(), sha=serial.sha256, openid_prefix="oOLD", phone_prefix="1390000")
    issued_serial = CouponTemplate.objects.get(pk=catalogue["coupon"].pk).issued_count

    job = dry_run(rows("oNEW", "137"), operator=operator, name="parallel.csv")
    imports.import_commit_start(job_id=job.pk)
    assert enqueued[-2:] == [("migration.tasks.commit_import", job.pk)] * 2  # IMPORT_COMMIT_WORKERS
    finished, _codes = run_concurrently(lambda i: imports.import_commit_run(job_id=job.pk), 2)

    job.refresh_from_db()
    assert (job.status, job.committed_rows, job.next_row) == (JobStatus.COMMITTED, 12, 14)
    # the one that found no chunk left marked the job committed; the other may have ended first,
    # while a chunk was still held, and left the job to it
    assert JobStatus.COMMITTED in {j.status for j in finished}
    assert not ImportChunk.objects.filter(job=job, done_at__isnull=True).exists()
    assert normalised(ledgers(), sha=job.sha256, openid_prefix="oNEW", phone_prefix="1370000") == expected
    assert CouponTemplate.objects.get(pk=catalogue["coupon"].pk).issued_count == 2 * issued_serial
    assert job.rows.filter(status=RowStatus.IMPORTED).count() == 12
    assert_ledgers_consistent()


def test_a_committer_killed_mid_chunk_leaves_it_to_the_next(
    operator, catalogue, settings, monkeypatch, enqueued
):
    """One committer posts its chunk's rows and dies before its transaction commits, while the other
    commits every other chunk beside it (new tags included: they were created at the start, so the
    two never wait on one); the killed chunk is then claimed again and finished by the resume job."""
    settings.MIGRATION_COMMIT_CHUNK = 3
    job = dry_run([member_row(n, 标签=f"老客,批次{n}") for n in range(1, 11)], operator=operator)
    imports.import_commit_start(job_id=job.pk)
    real = imports._commit_chunk
    holding, release = threading.Event(), threading.Event()

    def dying(job, first, last):
        imported = real(job, first, last)
        if threading.current_thread().name == "doomed":
            holding.set()
            release.wait(timeout=30)
            raise SystemExit("worker killed")
        return imported

    monkeypatch.setattr(imports, "_commit_chunk", dying)
    doomed = in_thread(lambda: imports.import_commit_run(job_id=job.pk), name="doomed")
    assert holding.wait(timeout=30)
    other = imports.import_commit_run(job_id=job.pk)  # never waits for the doomed chunk
    released_by_us = not release.is_set()
    release.set()
    with pytest.raises(SystemExit):
        doomed.result(timeout=30)
    assert released_by_us, "the other committer waited for the chunk held by the killed one"

    assert other.status == JobStatus.COMMITTING  # the killed one's chunk was held, so not done
    left = list(ImportChunk.objects.filter(job=job, done_at__isnull=True).values_list("first_row", flat=True))
    assert left == [2] and Member.objects.count() == 7  # rows 2-4: nothing of them stayed
    other.refresh_from_db()
    assert (other.committed_rows, other.next_row) == (7, 9)

    monkeypatch.setattr(imports, "_commit_chunk", real)
    assert imports.imports_resume() == 1
    job.refresh_from_db()
    assert (job.status, job.committed_rows, job.next_row) == (JobStatus.COMMITTED, 10, 12)
    assert Member.objects.count() == 10
    assert_ledgers_consistent()
