"""The operators' import pages: upload, mapping, dry-run report, import, undo refused and done."""

import pytest
from django.urls import reverse

from members.models import Member
from migration.models import ImportJob, JobStatus
from points import ledger as points_ledger
from tests.helpers import page_text
from tests.migration.helpers import csv_bytes, member_row

pytestmark = pytest.mark.django_db


def upload(admin_client, rows, name="旧系统会员.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = admin_client.post(
        reverse("admin:migration_importjob_add"), {"file": SimpleUploadedFile(name, csv_bytes(rows))}
    )
    assert response.status_code == 302, page_text(response)
    return ImportJob.objects.latest("pk"), response["Location"]


def map_and_dry_run(admin_client, job, **extra):
    data = {f"column_{i}": job.mapping.get(h, "") for i, h in enumerate(job.headers)}
    data["column_0"] = "openid"
    data.update(match_rule="skip", total_policy="principal", **extra)
    return admin_client.post(reverse("admin:migration_importjob_mapping", args=[job.pk]), data)


def test_an_operator_uploads_maps_dry_runs_imports_and_undoes(
    admin_client, catalogue, django_capture_on_commit_callbacks
):
    job, location = upload(admin_client, [member_row(1), member_row(2)])
    assert location == reverse("admin:migration_importjob_mapping", args=[job.pk])
    page = page_text(admin_client.get(location))
    assert "手机号" in page and "13900000001" in page and "GBK" in page
    response = map_and_dry_run(admin_client, job, preset_name="旧系统")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.VALIDATED
    report = page_text(admin_client.get(reverse("admin:migration_importjob_change", args=[job.pk])))
    assert "¥2,400.00" in report  # the principal total, in 元
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:migration_importjob_commit", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == JobStatus.COMMITTED and job.committed_rows == 2
    progress = admin_client.get(reverse("admin:migration_importjob_progress", args=[job.pk])).json()
    assert progress["percent"] == 100 and progress["committed_rows"] == 2
    response = admin_client.post(reverse("admin:migration_importjob_undo", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == JobStatus.UNDONE


def test_the_report_lists_each_bad_row_with_column_value_and_message(admin_client, catalogue):
    job, _location = upload(admin_client, [member_row(1), member_row(2, 积分1="-3", 生日="2026/2/30")])
    map_and_dry_run(admin_client, job)
    report = page_text(admin_client.get(reverse("admin:migration_importjob_change", args=[job.pk])))
    assert "积分1" in report and "-3" in report and "不能为负数" in report
    assert "2026/2/30" in report and "不存在的日期" in report
    response = admin_client.post(reverse("admin:migration_importjob_commit", args=[job.pk]), follow=True)
    assert Member.objects.filter(openid__startswith="oOLD").count() == 0
    assert "只有没有错误" in page_text(response)


def test_undo_shows_which_members_and_what_moved(admin_client, catalogue, django_capture_on_commit_callbacks):
    job, _location = upload(admin_client, [member_row(1)])
    map_and_dry_run(admin_client, job)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:migration_importjob_commit", args=[job.pk]))
    member = Member.objects.get(openid="oOLD00000001")
    points_ledger.points_spend(member_id=member.pk, amount=10, idempotency_key="s1", source="order")
    page = page_text(admin_client.get(reverse("admin:migration_importjob_undo", args=[job.pk])))
    assert f"#{member.pk}" in page and "积分已被使用" in page
    admin_client.post(reverse("admin:migration_importjob_undo", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == JobStatus.COMMITTED


def test_a_refused_file_is_said_on_the_upload_page(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = admin_client.post(
        reverse("admin:migration_importjob_add"), {"file": SimpleUploadedFile("x.xls", b"\xd0\xcf\x11\xe0")}
    )
    assert response.status_code == 200
    assert ".xlsx" in page_text(response)
    assert not ImportJob.objects.exists()


def test_a_large_file_is_dry_run_on_the_bulk_queue_and_the_page_waits_for_it(
    admin_client, catalogue, settings, django_capture_on_commit_callbacks
):
    settings.MIGRATION_SYNC_DRY_RUN_ROWS = 1
    job, _location = upload(admin_client, [member_row(1), member_row(2)])
    with django_capture_on_commit_callbacks() as queued:
        map_and_dry_run(admin_client, job)
    job.refresh_from_db()
    assert job.status == JobStatus.VALIDATING and not job.rows.exists()
    page = page_text(admin_client.get(reverse("admin:migration_importjob_change", args=[job.pk])))
    assert "试导入进行中" in page or "dry run running" in page
    for callback in queued:
        callback()
    job.refresh_from_db()
    assert job.status == JobStatus.VALIDATED and job.rows.count() == 2
