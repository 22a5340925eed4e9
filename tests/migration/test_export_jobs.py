"""The member export as a background job: progress, a killed worker, the download and the files' retention."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connections, router
from django.utils import timezone

from loyalty import db_router, locks
from loyalty.locks import Space
from members.models import Member
from migration import export_jobs, exports
from migration.export_views import EXPORTED
from migration.models import ExportJob, ExportStatus
from tests.factories import MemberFactory
from tests.helpers import page_text
from tests.migration.export_helpers import operator

pytestmark = pytest.mark.django_db

PAGE = "/admin/migration/exportjob/{}/change/"
DOWNLOAD = "/admin/migration/exportjob/{}/download/"


@pytest.fixture
def exporter(client):
    user = operator("exporter", "members.export_members", "members.view_member")
    client.force_login(user)
    return user


@pytest.fixture
def members(db):
    return [MemberFactory(nickname=f"会员{i}") for i in range(3)]


def start(user, file_format="csv", filters="") -> ExportJob:
    return export_jobs.export_job_start(user=user, file_format=file_format, filters=filters)


def test_the_page_follows_the_job_and_offers_the_download_when_it_is_done(client, exporter, members):
    job = start(exporter)  # the task is sent on commit: not run inside the test's transaction

    waiting = client.get(PAGE.format(job.pk))
    assert "排队中" in page_text(waiting) and "文件正在后台生成" in page_text(waiting)
    assert DOWNLOAD.format(job.pk) not in waiting.content.decode()
    assert client.get(DOWNLOAD.format(job.pk)).status_code == 302  # nothing to download yet

    export_jobs.export_job_run(job_id=job.pk, chunk_size=2)

    progress = client.get(f"/admin/migration/exportjob/{job.pk}/progress.json").json()
    assert progress == {"status": "done", "status_display": "可下载", "rows_done": 3, "rows_total": 3}
    done = client.get(PAGE.format(job.pk))
    assert DOWNLOAD.format(job.pk) in done.content.decode() and "下载文件" in page_text(done)
    assert "7 天后自动删除" in page_text(done)
    listing = client.get("/admin/migration/exportjob/")
    assert "可下载" in page_text(listing) and "3 / 3" in page_text(listing)


def test_progress_is_written_as_the_rows_go(exporter, members, monkeypatch):
    job = start(exporter)
    seen = []
    rows = exports.member_export_rows

    def watched(**kwargs):
        for row in rows(**kwargs):
            seen.append(ExportJob.objects.get(pk=job.pk).rows_done)
            yield row

    monkeypatch.setattr(exports, "member_export_rows", watched)
    export_jobs.export_job_run(job_id=job.pk, chunk_size=1)

    assert seen == [0, 1, 2]  # each row written after the previous one was counted
    assert ExportJob.objects.get(pk=job.pk).rows_done == 3


def test_the_file_is_served_only_through_the_download_view_to_whoever_may_export(
    client, exporter, members, settings
):
    job = export_jobs.export_job_run(job_id=start(exporter).pk)
    path = export_jobs.file_path(job)
    assert path.is_file() and str(path).startswith(str(settings.MEDIA_ROOT))

    response = client.get(DOWNLOAD.format(job.pk))
    body = b"".join(response.streaming_content).decode("utf-8")
    assert "no-store" in response["Cache-Control"] and response["Content-Type"].startswith("text/csv")
    assert len(list(csv.reader(io.StringIO(body[1:])))) == 4  # the header and three members
    assert client.get(f"/media/{job.file}").status_code == 404  # no public MEDIA URL

    client.force_login(operator("clerk", "members.view_member"))
    assert client.get(DOWNLOAD.format(job.pk)).status_code == 403
    assert client.get(PAGE.format(job.pk)).status_code == 403
    assert client.get("/admin/migration/exportjob/").status_code == 403
    downloads = LogEntry.objects.filter(action_flag=EXPORTED, change_message__startswith="下载")
    assert list(downloads.values_list("user__username", flat=True)) == ["exporter"]


def test_a_job_a_killed_worker_left_running_is_written_again_by_the_resume_job(exporter, members):
    job = start(exporter, "xlsx")
    # what a worker killed half-way leaves: running, one start counted, a half file, its lock gone
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.RUNNING, attempts=1, rows_done=2)
    part = export_jobs.file_path(job).with_name(f"member-export-{job.pk}.xlsx.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"half a zip")

    assert export_jobs.exports_resume() == 1

    job.refresh_from_db()
    assert (job.status, job.attempts, job.rows_done) == (ExportStatus.DONE, 2, 3)
    assert export_jobs.file_path(job).is_file() and not part.exists()


def test_a_job_a_live_worker_is_writing_is_left_to_it(exporter, members):
    job = start(exporter)
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.RUNNING, attempts=1)
    assert locks.try_hold(Space.EXPORT_JOB, job.pk)  # the live worker
    try:
        export_jobs.exports_resume()
    finally:
        locks.let_go(Space.EXPORT_JOB, job.pk)

    job.refresh_from_db()
    assert (job.status, job.attempts) == (ExportStatus.RUNNING, 1)


def test_a_job_whose_worker_keeps_dying_fails_with_the_reason(client, exporter, members, settings):
    job = start(exporter)
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.RUNNING, attempts=settings.EXPORT_MAX_ATTEMPTS
    )

    export_jobs.exports_resume()

    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED and "中断了 3 次" in job.error
    page = page_text(client.get(PAGE.format(job.pk)))
    assert "失败" in page and "中断了 3 次" in page and "重新导出" in page


def test_an_error_while_writing_fails_the_job_and_leaves_no_file(exporter, members, monkeypatch):
    job = start(exporter)

    def broken(**kwargs):
        yield [1] * len(exports.COLUMNS)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(exports, "member_export_rows", broken)
    with pytest.raises(RuntimeError):
        export_jobs.export_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert (
        job.status == ExportStatus.FAILED
        and job.error.startswith("生成文件失败")
        and "the database went away" in job.error
    )
    assert not list(export_jobs.file_path(job).parent.iterdir())


def test_files_older_than_the_retention_are_deleted_and_the_job_says_so(client, exporter, members):
    old, recent = (export_jobs.export_job_run(job_id=start(exporter).pk) for _ in range(2))
    now = timezone.now()
    ExportJob.objects.filter(pk=old.pk).update(finished_at=now - timedelta(days=7, minutes=1))
    ExportJob.objects.filter(pk=recent.pk).update(finished_at=now - timedelta(days=6))

    assert export_jobs.exports_prune(now=now) == 1
    assert export_jobs.exports_prune(now=now) == 0  # safe to rerun

    old.refresh_from_db()
    assert old.status == ExportStatus.EXPIRED and old.expired_at == now
    assert not export_jobs.file_path(old).exists() and export_jobs.file_path(recent).is_file()
    assert client.get(DOWNLOAD.format(old.pk)).status_code == 302
    assert "文件已过保存期限并删除" in page_text(client.get(PAGE.format(old.pk)))


def test_the_rows_are_read_from_the_replica_and_the_job_on_the_primary(exporter, members, monkeypatch):
    """As the admin's other exports: the rows are read from the replica; between them (the progress) and
    around them (the job's row), the primary."""
    job = start(exporter)
    monkeypatch.setitem(connections["replica"].settings_dict, "NAME", "a_replica_elsewhere")  # routing only
    monkeypatch.setattr(db_router, "replica_reachable", lambda: True)
    seen = []

    def rows(**kwargs):
        for n in range(2):
            seen.append((router.db_for_read(Member), router.db_for_read(ExportJob)))
            yield [n]

    monkeypatch.setattr(exports, "member_export_rows", rows)
    export_jobs.export_job_run(job_id=job.pk)

    assert seen == [("replica", "replica"), ("replica", "replica")]
    assert router.db_for_read(ExportJob) == "default"  # between rows and after: the primary
    assert ExportJob.objects.get(pk=job.pk).rows_done == 2
