"""The import's raw statements against the ORM: what they write reads back as the ORM would write it."""

import pytest
from django.utils import timezone

from members.models import Member
from migration import sql
from migration.imports import _Checked
from migration.models import ImportJob, ImportRow, RowStatus
from points import ledger as points_ledger
from stored_value import ledger as sv_ledger
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(operator):
    return ImportJob.objects.create(filename="a.csv", sha256="0" * 64, created_by=operator)


def test_report_rows_copied_raw_read_back_as_orm_rows(job):
    member = MemberFactory()
    problems = [["手机号", "12345\\t\t\n", "不是手机号（应为以1开头的11位数字）。"]]
    data = {"phone": "13900000001", "lots": [[100, "2030-12-31T00:00:00+08:00"]], "nickname": 'a\\"b'}
    sql.copy_rows(
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
    sql.copy_rows(job.pk, [_Checked(n, RowStatus.OK, [], {}, None) for n in (2, 3)])
    raw, orm = job.rows.order_by("number")
    postings = {"lots": [1, 2], "stored_value": 3}
    sql.mark_imported([(raw.pk, members[0].pk, True, postings)], status=RowStatus.IMPORTED)
    orm.member, orm.created_member, orm.postings, orm.status = members[1], True, postings, RowStatus.IMPORTED
    ImportRow.objects.bulk_update([orm], ["member", "created_member", "postings", "status"])
    raw.refresh_from_db()
    orm.refresh_from_db()
    assert (raw.status, raw.created_member, raw.postings) == (orm.status, orm.created_member, orm.postings)
    assert (raw.member_id, orm.member_id) == (members[0].pk, members[1].pk)


def test_members_inserted_raw_read_back_as_the_orm_creates_them():
    from django.utils import timezone

    now = timezone.now()
    orm = Member.objects.create(openid="oORM", unionid="u1", phone="13900000001", nickname="甲", gender=2)
    created = sql.insert_members(
        [
            ("oRAW", "u2", "13900000002", "甲", 2, None, "ABCD1234", "", None),
            ("oOLD", "", "", "乙", 0, "1990-03-08", "ABCD1235", "门店", "2021-05-01T10:00:00+08:00"),
        ],
        now=now,
    )
    raw, old = Member.objects.get(pk=created["oRAW"]), Member.objects.get(pk=created["oOLD"])
    fields = [
        f.attname for f in Member._meta.concrete_fields if f.attname not in ("id", "openid", "invite_code")
    ]
    assert {f: getattr(raw, f) for f in fields} == {
        **{f: getattr(orm, f) for f in fields},
        "unionid": "u2",
        "phone": "13900000002",
        "registered_at": now,
    }
    assert (old.birthday.isoformat(), old.registration_channel, old.gender) == ("1990-03-08", "门店", 0)
    assert timezone.localtime(old.registered_at).strftime("%Y-%m-%d %H:%M") == "2021-05-01 10:00"


def test_members_whose_openid_phone_or_unionid_a_member_has_are_not_inserted():
    MemberFactory(openid="oTAKEN", phone="13900000009", unionid="uTAKEN")
    rows = [
        ("oTAKEN", "", "", "", 0, None, "C0000001", "", None),
        ("oNEW1", "", "13900000009", "", 0, None, "C0000002", "", None),
        ("oNEW2", "uTAKEN", "", "", 0, None, "C0000003", "", None),
        ("oNEW3", "", "", "", 0, None, "C0000004", "", None),
    ]
    assert set(sql.insert_members(rows, now=timezone.now())) == {"oNEW3"}


def test_members_matching_and_keys_posted_read_as_the_orm_would():
    a = MemberFactory(openid="oA", phone="13900000001", unionid="uA")
    b = MemberFactory(openid="oB", phone="13900000002")
    found = sql.members_matching(openids=["oA"], unionids=[], phones=["13900000002", "13900000003"])
    assert [(m[0], m[1], m[4]) for m in found] == [(a.pk, "oA", False), (b.pk, "oB", False)]
    points_ledger.points_earn(
        member_id=a.pk, amount=5, idempotency_key="k1", source="migration", expires_at=None
    )
    sv_ledger.stored_value_adjust(
        member_id=b.pk,
        principal_fen=100,
        bonus_fen=0,
        reason="r",
        actor_id=None,
        idempotency_key="k2",
        source="migration",
    )
    assert sql.posted_keys(
        points=[(a.pk, "k1"), (a.pk, "k9"), (b.pk, "k1")], stored_value=[(b.pk, "k2")]
    ) == {
        "k1",
        "k2",
    }
