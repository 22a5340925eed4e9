"""An operator imports an old system's members in a real browser at 1366x768: upload the GBK file, map
its columns, read the dry run's report and totals, import with the progress bar moving, read the final
report; and exports the members, the file written in the background and downloaded from the job's page.
Screenshots of each step go to ``test-artefacts/browser/`` (``import-*``, ``export-*``)."""

from __future__ import annotations

import re

import pytest

from members.models import Member
from migration import export_jobs, imports
from migration.models import ExportJob, ImportJob, JobStatus
from tests.browser.helpers import log_in, on_screen, shot
from tests.factories import MemberFactory
from tests.migration.helpers import csv_bytes, member_row

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("many-connections"),
]


@pytest.fixture
def viewport() -> dict:
    return {"width": 1366, "height": 768}


def test_an_operator_walks_an_import_from_upload_to_the_final_report(
    page, live_server, settings, tmp_path, monkeypatch
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MIGRATION_COMMIT_CHUNK = 2
    # The commit runs where the test can pace it (a worker would): one chunk, then the rest.
    monkeypatch.setattr(imports, "enqueue_on_commit", lambda *args: None)
    rows = [member_row(n) for n in range(1, 6)] + [member_row(6, 积分1="-3", 生日="2026/2/30")]
    old_file = tmp_path / "旧系统会员导出.csv"
    old_file.write_bytes(csv_bytes(rows))
    log_in(page, live_server.url)

    page.goto(f"{live_server.url}/admin/migration/importjob/add/")
    page.set_input_files("input[name=file]", str(old_file))
    on_screen(page, "import-1-upload", page.locator(".lo-submit button[type=submit]"))
    page.click(".lo-submit button[type=submit]")

    page.wait_for_selector("#mapping-form")
    assert "GBK" in page.inner_text("#content-main")
    page.select_option("select[name=column_0]", "openid")
    assert page.input_value("select[name=column_1]") == "phone"  # 手机号, guessed
    page.fill("input[name=preset_name]", "旧系统")
    on_screen(page, "import-2-mapping", page.locator("#mapping-form button[type=submit]"))
    page.click("#mapping-form button[type=submit]")

    page.wait_for_selector("#import-totals")
    report = page.inner_text("#content-main")
    assert "¥6,000.00" in report  # 5 good rows × ¥1,200.00 principal
    problems = page.inner_text("#import-problems")
    assert "积分1" in problems and "不能为负数" in problems and "不存在的日期" in problems
    job = ImportJob.objects.get()
    on_screen(
        page, "import-3-dry-run", page.locator(f'a[href="/admin/migration/importjob/{job.pk}/accept/"]').first
    )

    page.click(f'a[href="/admin/migration/importjob/{job.pk}/accept/"]')
    page.click(".lo-submit button[type=submit]")
    page.click(f'a[href="/admin/migration/importjob/{job.pk}/commit/"]')
    on_screen(page, "import-4-confirm", page.locator(".lo-submit button[type=submit]"))
    page.click(".lo-submit button[type=submit]")
    page.wait_for_selector("#import-bar")
    assert ImportJob.objects.get().status == JobStatus.COMMITTING

    imports.import_commit_run(job_id=job.pk, max_chunks=1)
    page.wait_for_function("document.getElementById('import-done').textContent === '2'")
    assert page.eval_on_selector("#import-bar", "bar => bar.value") > 0
    on_screen(page, "import-5-progress", page.locator("#import-bar"))

    imports.import_commit_run(job_id=job.pk)
    page.wait_for_function("document.getElementById('import-status').textContent.includes('已导入')")
    page.wait_for_selector(f'a[href="/admin/migration/importjob/{job.pk}/undo/"]')
    assert re.search(r"5\s*/\s*5", page.inner_text("#import-progress"))
    on_screen(
        page, "import-6-report", page.locator(f'a[href="/admin/migration/importjob/{job.pk}/undo/"]').first
    )
    shot(page, "import-6-report-full")
    assert Member.objects.filter(openid__startswith="oOLD").count() == 5


def test_an_operator_exports_the_members_and_downloads_the_file_when_it_is_written(
    page, live_server, settings, tmp_path, monkeypatch
):
    """The export is a background job: the page shows it queued, follows it, then offers the download."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    monkeypatch.setattr(export_jobs, "enqueue_on_commit", lambda *args: None)  # the test is the worker
    for n in range(3):
        MemberFactory(nickname=f"会员{n}")
    log_in(page, live_server.url)

    page.goto(f"{live_server.url}/admin/members/export/")
    page.check("input[name=format][value=xlsx]")
    on_screen(page, "export-1-start", page.locator(".lo-submit button[type=submit]"))
    page.click(".lo-submit button[type=submit]")

    page.wait_for_selector("#export-waiting")
    job = ExportJob.objects.get()
    assert "排队中" in page.inner_text("#export-status")
    shot(page, "export-2-queued")

    export_jobs.export_job_run(job_id=job.pk)
    page.wait_for_selector("#export-download a")  # the page saw the job end and reloaded
    assert re.search(r"3\s*/\s*3", page.inner_text("#export-progress"))
    on_screen(page, "export-3-done", page.locator("#export-download a"))
    with page.expect_download() as download:
        page.click("#export-download a")
    assert download.value.suggested_filename.endswith(f"_{job.pk}.xlsx")
