"""The import's raw statements against the ORM: what they write reads back as the ORM would write it."""

import pytest

from migration import sql
from migration.imports import _Checked
from migration.models import ImportJob, ImportRow, RowStatus
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(operator):
    return ImportJob.objects.create(filename="a.csv", sha256="0" * 64, created_by=operator)


def test_report_rows_inserted_raw_read_back_as_orm_rows(job):
    member = MemberFactory()
    problems = [["手机号", "12345", "不是手机号（应为以1开头的11位数字）。"]]
    data = {"phone": "13900000001", "lots": [[100, "2030-12-31T00:00:00+08:00"]], "principal": 120_000}
    sql.insert_rows(
        job.pk,
        [_Checked(2, RowStatus.OK, [], data, member.pk), _Checked(3, RowStatus.ERROR, problems, {}, None)],
    )
    ImportRow.objects.create(job=job, number=4, status=RowStatus.ERROR, problems=problems, data={})
    raw_ok, raw_bad, orm_bad = job.rows.order_by("number")
    assert (raw_ok.status, raw_ok.data, raw_ok.member_id, raw_ok.postings) == ("ok", data, member.pk, {})
    fields = ("status", "problems", "data", "member_id", "created_member", "postings")
    assert [getattr(raw_bad, f) for f in fields] == [getattr(orm_bad, f) for f in fields]


def test_rows_marked_imported_raw_read_back_as_a_bulk_update_leaves_them(job):
    members = [MemberFactory(), MemberFactory()]
    sql.insert_rows(job.pk, [_Checked(n, RowStatus.OK, [], {}, None) for n in (2, 3)])
    raw, orm = job.rows.order_by("number")
    postings = {"lots": [1, 2], "stored_value": 3}
    sql.mark_imported([(raw.pk, members[0].pk, True, postings)], status=RowStatus.IMPORTED)
    orm.member, orm.created_member, orm.postings, orm.status = members[1], True, postings, RowStatus.IMPORTED
    ImportRow.objects.bulk_update([orm], ["member", "created_member", "postings", "status"])
    raw.refresh_from_db()
    orm.refresh_from_db()
    assert (raw.status, raw.created_member, raw.postings) == (orm.status, orm.created_member, orm.postings)
    assert (raw.member_id, orm.member_id) == (members[0].pk, members[1].pk)


def test_registration_times_set_raw_are_the_members(job):
    from django.utils import timezone

    member = MemberFactory()
    at = timezone.now().replace(year=2021, microsecond=0)
    sql.set_registered_at([(member.pk, at)])
    member.refresh_from_db()
    assert member.registered_at == at
