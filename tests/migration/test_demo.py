"""The demo's old-system file: uploaded and dry-run, its mistakes reported, its good rows importable."""

import pytest

from migration import demo, imports
from migration.models import JobStatus
from tests.helpers import assert_ledgers_consistent

pytestmark = pytest.mark.django_db


def test_the_demo_file_is_read_as_gbk_and_its_dry_run_reports_its_mistakes(catalogue):
    job = demo.seed_sample_import()
    assert job.encoding == "gb18030"
    assert job.status == JobStatus.VALIDATED and job.row_count == 40
    assert 4 <= job.error_rows <= 8
    assert job.warning_rows >= 1  # the points already expired
    assert demo.seed_sample_import() is None  # once
    imports.import_accept_errors(job_id=job.pk)
    imports.import_commit_start(job_id=job.pk)
    job = imports.import_commit_run(job_id=job.pk)
    assert job.status == JobStatus.COMMITTED and job.committed_rows == job.ok_rows + job.warning_rows
    assert_ledgers_consistent()
