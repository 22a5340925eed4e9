"""Importing members and balances: dry run, commit in chunks, resume, re-run and undo."""

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import MemberTagging
from coupons.models import Coupon
from members.models import Member
from membership.models import GrowthEntry, Membership, MembershipCard
from migration import imports
from migration.exceptions import ImportFileRefused, ImportMappingInvalid, ImportNotReady, ImportUndoBlocked
from migration.models import ImportJob, JobStatus, RowStatus
from points import ledger as points_ledger
from points.models import PointsEntry, PointsLot
from stored_value import ledger as sv_ledger
from stored_value.models import StoredValueAccount, StoredValueEntry
from tests.factories import MemberFactory
from tests.helpers import assert_ledgers_consistent
from tests.migration.helpers import committed, csv_bytes, dry_run, member_row

pytestmark = pytest.mark.django_db


def ledgers() -> dict:
    """Everything an import can write, as comparable values (no ids of rows it created)."""
    return {
        "members": sorted(
            Member.objects.values_list("openid", "phone", "nickname", "gender", "birthday", "registered_at")
        ),
        "points": sorted(
            PointsEntry.objects.values_list(
                "account__member__openid", "kind", "amount", "source", "idempotency_key"
            )
        ),
        "lots": sorted(
            PointsLot.objects.values_list("account__member__openid", "amount", "remaining", "expires_at")
        ),
        "stored_value": sorted(
            StoredValueEntry.objects.values_list(
                "account__member__openid", "kind", "principal_fen", "bonus_fen", "source", "idempotency_key"
            )
        ),
        "accounts": sorted(
            StoredValueAccount.objects.values_list("member__openid", "principal_fen", "bonus_fen")
        ),
        "coupons": sorted(
            Coupon.objects.values_list("member__openid", "template__name", "status", "valid_until")
        ),
        "cards": sorted(
            MembershipCard.objects.values_list("member__openid", "card_type__name", "valid_until")
        ),
        "growth": sorted(GrowthEntry.objects.values_list("member__openid", "kind", "amount")),
        "tiers": sorted(Membership.objects.values_list("member__openid", "tier_level", "growth_total")),
        "tags": sorted(MemberTagging.objects.values_list("member__openid", "tag__name")),
    }


def full_row(n, **cells):
    return member_row(
        n,
        等级="黄金",
        成长值="1500",
        标签="老客,VIP",
        会员卡="金卡",
        会员卡有效期="2030-01-01",
        优惠券="满100减20",
        优惠券数量="2",
        优惠券有效期="2030/6/1",
        **cells,
    )


# --- the dry run ------------------------------------------------------------------------------------


def test_the_dry_run_reports_totals_to_check_against_the_old_system_and_writes_nothing(operator, catalogue):
    before = ledgers()
    job = dry_run([full_row(1), full_row(2, 积分2="", 积分2到期="")], operator=operator)
    assert job.status == JobStatus.VALIDATED
    assert job.encoding == "gb18030"
    assert (job.ok_rows, job.warning_rows, job.error_rows) == (2, 0, 0)
    assert job.totals == {
        "members": 2,
        "members_new": 2,
        "members_matched": 0,
        "members_skipped": 0,
        "lots": 3,
        "points": 250,
        "points_expired": 0,
        "principal_fen": 240_000,
        "bonus_fen": 2_500,
        "cards": 2,
        "coupons": 4,
    }
    assert ledgers() == before


@pytest.mark.parametrize(
    ("cells", "column", "message"),
    [
        ({"储值本金": "-5"}, "储值本金", "金额不能为负数"),
        ({"赠送金额": "十元"}, "赠送金额", "请输入以元为单位的金额"),
        ({"积分1": "12.5"}, "积分1", "不是整数"),
        ({"积分1": "-3"}, "积分1", "不能为负数"),
        ({"积分1到期": "2026/2/30"}, "积分1到期", "不存在的日期"),
        ({"生日": "1990年13月1日"}, "生日", "不存在的日期"),
        ({"生日": "someday"}, "生日", "不是日期"),
        ({"手机号": "12345"}, "手机号", "不是手机号"),
        ({"等级": "王者"}, "等级", "没有此名称或级别的会员等级"),
        ({"会员卡": "银卡"}, "会员卡", "没有此名称的会员卡"),
        ({"优惠券": "不存在的券"}, "优惠券", "没有此名称的优惠券"),
        ({"优惠券": "满100减20", "优惠券数量": "9"}, "优惠券数量", "每人最多3张"),
        ({"积分2": "", "积分2到期": "2030-01-01"}, "积分2到期", "有到期时间但没有积分"),
        ({"会员ID": "", "手机号": ""}, "手机号", "无法识别会员"),
    ],
)
def test_each_bad_cell_gets_its_own_message_and_nothing_is_written(
    operator, catalogue, cells, column, message
):
    before = ledgers()
    job = dry_run([member_row(1), member_row(2, **cells)], operator=operator)
    assert (job.ok_rows, job.error_rows) == (1, 1)
    bad = job.rows.get(number=3)
    assert bad.status == RowStatus.ERROR
    assert any(p[0] == column and message in p[2] for p in bad.problems), bad.problems
    assert job.rows.get(number=2).status == RowStatus.OK
    with pytest.raises(ImportNotReady):
        imports.import_commit_start(job_id=job.pk)
    assert ledgers() == before


def test_duplicates_within_the_file_are_errors_of_the_later_row(operator, catalogue):
    job = dry_run([member_row(1), member_row(2, 手机号="13900000001")], operator=operator)
    problems = job.rows.get(number=3).problems
    assert problems == [["手机号", "13900000001", "手机号与第2行重复。"]]


def test_rows_matching_an_existing_member_by_phone_unionid_or_openid_are_found(operator, catalogue):
    by_phone = MemberFactory(phone="13900000001")
    by_openid = MemberFactory(openid="oOLD00000002")
    job = dry_run([member_row(1), member_row(2), member_row(3)], operator=operator)
    rows = {r.number: r for r in job.rows.all()}
    assert (rows[2].status, rows[2].member_id) == (RowStatus.SKIP, by_phone.pk)
    assert (rows[3].status, rows[3].member_id) == (RowStatus.SKIP, by_openid.pk)
    assert rows[4].status == RowStatus.OK
    assert job.totals["members_skipped"] == 2


def test_a_row_matching_two_different_members_is_an_error(operator, catalogue):
    MemberFactory(phone="13900000001")
    MemberFactory(openid="oOLD00000001")
    job = dry_run([member_row(1)], operator=operator)
    assert "同时匹配到多个会员" in job.rows.get().problems[0][2]


def test_an_expiry_in_the_past_is_a_note_and_the_points_come_in_already_expired(operator, catalogue):
    job = dry_run([member_row(1, 积分1到期="2020-01-01")], operator=operator)
    row = job.rows.get()
    assert row.status == RowStatus.WARNING
    assert row.problems == [["积分1到期", "2020-01-01", "已过期：这些积分将以已过期状态导入。"]]
    assert job.totals["points_expired"] == 100
    job = committed(job)
    lot = PointsLot.objects.get(account__member__openid="oOLD00000001", amount=100)
    assert lot.expires_at < timezone.now()
    points_ledger.points_expire_due(pause=0)
    assert PointsLot.objects.get(pk=lot.pk).remaining == 0
    assert_ledgers_consistent()


def test_a_file_over_the_configured_size_is_refused_at_upload(operator, settings):
    settings.MIGRATION_MAX_FILE_BYTES = 50
    with pytest.raises(ImportFileRefused):
        imports.import_upload(filename="big.csv", data=csv_bytes([member_row(1)]), actor_id=operator.pk)
    assert not ImportJob.objects.exists()


def test_a_mapping_without_any_way_to_find_members_is_refused(operator):
    job = imports.import_upload(filename="a.csv", data=csv_bytes([member_row(1)]), actor_id=operator.pk)
    with pytest.raises(ImportMappingInvalid):
        imports.import_map(
            job_id=job.pk,
            mapping={"积分1": "points_1"},
            match_rule="skip",
            total_policy="principal",
            actor_id=operator.pk,
        )


def test_a_stored_value_total_is_split_by_the_stated_policy(operator, catalogue):
    headers = ["手机号", "储值余额"]
    data = csv_bytes([{"手机号": "13900000001", "储值余额": "88"}], headers=headers)
    job = imports.import_upload(filename="t.csv", data=data, actor_id=operator.pk)
    imports.import_map(
        job_id=job.pk, mapping=job.mapping, match_rule="skip", total_policy="bonus", actor_id=operator.pk
    )
    job = imports.import_dry_run(job_id=job.pk)
    assert (job.totals["principal_fen"], job.totals["bonus_fen"]) == (0, 8_800)


def test_a_preset_saved_with_one_file_maps_the_next(operator):
    job = imports.import_upload(filename="a.csv", data=csv_bytes([member_row(1)]), actor_id=operator.pk)
    mapping = {**job.mapping, "会员ID": "openid"}
    imports.import_map(
        job_id=job.pk,
        mapping=mapping,
        match_rule="skip",
        total_policy="principal",
        preset_name="旧系统",
        actor_id=operator.pk,
    )
    second = imports.import_upload(filename="b.csv", data=csv_bytes([member_row(2)]), actor_id=operator.pk)
    assert second.preset.name == "旧系统"
    assert second.mapping["会员ID"] == "openid"


# --- the commit -------------------------------------------------------------------------------------


def test_a_commit_creates_members_and_posts_every_balance_through_the_ledgers(operator, catalogue):
    job = committed(dry_run([full_row(1)], operator=operator))
    assert job.status == JobStatus.COMMITTED
    assert job.committed_rows == 1
    member = Member.objects.get(openid="oOLD00000001")
    assert (member.phone, member.nickname, member.gender) == ("13900000001", "老会员1", 2)
    assert member.birthday.isoformat() == "1990-03-08"
    assert timezone.localtime(member.registered_at).strftime("%Y-%m-%d %H:%M") == "2021-05-01 10:00"
    lots = sorted(PointsLot.objects.filter(account__member=member).values_list("amount", "source"))
    assert lots == [(50, "migration"), (100, "migration")]
    account = StoredValueAccount.objects.get(member=member)
    assert (account.principal_fen, account.bonus_fen) == (120_000, 1_250)
    assert StoredValueEntry.objects.get(account=account).source == "migration"
    assert Coupon.objects.filter(member=member, source="migration", status="available").count() == 2
    card = MembershipCard.objects.get(member=member)
    assert card.card_type.name == "金卡"
    membership = Membership.objects.get(member=member)
    assert (membership.tier_level, membership.growth_total) == (1, 1500)
    assert set(MemberTagging.objects.filter(member=member).values_list("tag__name", flat=True)) == {
        "老客",
        "VIP",
    }
    assert_ledgers_consistent()


@pytest.mark.parametrize("row", [full_row, member_row], ids=["one-by-one rows", "set-based rows"])
def test_the_same_file_again_posts_nothing_twice(operator, catalogue, row):
    rows = [row(1), row(2)]
    committed(dry_run(rows, operator=operator, match_rule="add"))
    after_first = ledgers()
    second = dry_run(rows, operator=operator, match_rule="add")
    assert second.totals["members_matched"] == 2
    second = committed(second)
    assert second.status == JobStatus.COMMITTED
    assert ledgers() == after_first
    assert [(r.status, r.postings) for r in second.rows.all()] == [("imported", {})] * 2
    assert second.committed_rows == 2


def test_add_balances_merges_into_the_existing_member_and_skip_leaves_them_alone(operator, catalogue):
    existing = MemberFactory(phone="13900000001", nickname="已有会员")
    committed(dry_run([member_row(1)], operator=operator, match_rule="skip"))
    assert not PointsLot.objects.filter(account__member=existing).exists()
    committed(dry_run([member_row(1)], operator=operator, match_rule="add", name="again.csv"))
    assert Member.objects.filter(phone="13900000001").count() == 1
    existing.refresh_from_db()
    assert existing.nickname == "已有会员"  # profile kept; balances added
    # same file, same keys: the "add" run is the first to post for this member
    assert sorted(PointsLot.objects.filter(account__member=existing).values_list("amount", flat=True)) == [
        50,
        100,
    ]
    assert_ledgers_consistent()


def normalised(state: dict, *, sha: str, openid_prefix: str, phone_prefix: str) -> dict:
    """The part of ``state`` of the members whose openid starts with ``openid_prefix``, with the file's
    hash and the members' prefixes written the same way, so two files' imports compare."""

    def norm(value):
        text = str(value).replace(sha, "SHA").replace(sha[:16], "SHA16").replace(openid_prefix, "oX")
        return text.replace(phone_prefix, "PHONE")

    return {
        key: sorted(
            tuple(norm(v) for v in values) for values in rows if str(values[0]).startswith(openid_prefix)
        )
        for key, rows in state.items()
    }


def test_a_killed_commit_resumed_ends_identical_to_a_clean_run(operator, catalogue, settings):
    settings.MIGRATION_COMMIT_CHUNK = 2
    clean = committed(dry_run([full_row(n) for n in range(1, 8)], operator=operator))
    expected = normalised(ledgers(), sha=clean.sha256, openid_prefix="oOLD", phone_prefix="1390000")

    rows = [full_row(n, 会员ID=f"oNEW{n:08d}", 手机号=f"137{n:08d}") for n in range(1, 8)]
    job = dry_run(rows, operator=operator, name="second.csv")
    imports.import_commit_start(job_id=job.pk)
    job = imports.import_commit_run(job_id=job.pk, max_chunks=2)  # the worker dies here
    assert job.status == JobStatus.COMMITTING
    assert (job.committed_rows, job.next_row) == (4, 6)
    assert imports.imports_resume() == 1  # the resume job picks it up
    job.refresh_from_db()
    assert (job.status, job.committed_rows) == (JobStatus.COMMITTED, 7)
    resumed = normalised(ledgers(), sha=job.sha256, openid_prefix="oNEW", phone_prefix="1370000")
    assert resumed == expected
    assert len(resumed["lots"]) == 14 and len(resumed["coupons"]) == 14
    assert_ledgers_consistent()


def test_a_chunk_that_fails_midway_leaves_nothing_of_itself(operator, catalogue, settings, monkeypatch):
    settings.MIGRATION_COMMIT_CHUNK = 3
    settings.MIGRATION_BULK = False  # the one-by-one path; the set-based one is the next test
    job = dry_run([member_row(n) for n in range(1, 7)], operator=operator)
    imports.import_commit_start(job_id=job.pk)
    real = imports._commit_row
    calls = {"n": 0}

    def dying(job, row):
        calls["n"] += 1
        if calls["n"] == 5:
            raise SystemExit("worker killed")
        return real(job, row)

    monkeypatch.setattr(imports, "_commit_row", dying)
    with pytest.raises(SystemExit):
        imports.import_commit_run(job_id=job.pk)
    assert Member.objects.count() == 3  # the first chunk only
    job.refresh_from_db()
    assert (job.next_row, job.committed_rows) == (5, 3)
    monkeypatch.setattr(imports, "_commit_row", real)
    job = imports.import_commit_run(job_id=job.pk)
    assert job.status == JobStatus.COMMITTED and Member.objects.count() == 6
    assert PointsLot.objects.count() == 12
    assert_ledgers_consistent()


def test_a_set_based_chunk_that_dies_midway_leaves_nothing_of_itself(
    operator, catalogue, settings, monkeypatch
):
    settings.MIGRATION_COMMIT_CHUNK = 3
    job = dry_run([member_row(n) for n in range(1, 7)], operator=operator)
    imports.import_commit_start(job_id=job.pk)
    real = sv_ledger.stored_value_open_accounts
    calls = {"n": 0}

    def dying(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(sv_ledger, "stored_value_open_accounts", dying)
    with pytest.raises(SystemExit):
        imports.import_commit_run(job_id=job.pk)
    assert Member.objects.count() == 3 and PointsLot.objects.count() == 6  # the first chunk only
    monkeypatch.setattr(sv_ledger, "stored_value_open_accounts", real)
    job = imports.import_commit_run(job_id=job.pk)
    assert job.status == JobStatus.COMMITTED and Member.objects.count() == 6
    assert_ledgers_consistent()


def test_the_set_based_path_posts_exactly_what_the_services_post_one_by_one(operator, catalogue, settings):
    """The raw statements (points.sql / stored_value.sql ``open_accounts``) against the services."""
    settings.MIGRATION_COMMIT_CHUNK = 4
    settings.MIGRATION_BULK = False
    one_by_one = committed(dry_run([member_row(n, 标签="老客") for n in range(1, 8)], operator=operator))
    settings.MIGRATION_BULK = True
    rows = [member_row(n, 会员ID=f"oNEW{n:08d}", 手机号=f"137{n:08d}", 标签="老客") for n in range(1, 8)]
    set_based = committed(dry_run(rows, operator=operator, name="b.csv"))
    assert set_based.rows.filter(created_member=True).count() == 7

    def state(job, prefix, phone):
        full = {
            **ledgers(),
            "balances_after": sorted(
                PointsEntry.objects.values_list(
                    "account__member__openid", "amount", "balance_after", "created_at__year"
                )
            ),
            "sv_after": sorted(
                StoredValueEntry.objects.values_list(
                    "account__member__openid",
                    "principal_after_fen",
                    "bonus_after_fen",
                    "memo",
                    "actor",
                    "reference",
                )
            ),
        }
        return normalised(full, sha=job.sha256, openid_prefix=prefix, phone_prefix=phone)

    expected = state(one_by_one, "oOLD", "1390000")
    got = state(set_based, "oNEW", "1370000")
    assert got["lots"] and got == expected
    # and the services see the set-based entries as their own: the same keys replay
    for row in set_based.rows.select_related("member"):
        data, number = row.data, row.number
        for index, (amount, _expires) in enumerate(data["lots"], start=1):
            posting = points_ledger.points_earn(
                member_id=row.member_id,
                amount=amount,
                idempotency_key=imports.row_key(set_based.sha256, number, f"lot{index}"),
                source="migration",
                expires_at=None,
                reference=imports.row_reference(set_based.sha256, number),
            )
            assert posting.replayed and posting.entry_id == row.postings["lots"][index - 1]
        posting = sv_ledger.stored_value_adjust(
            member_id=row.member_id,
            principal_fen=data["principal"],
            bonus_fen=data["bonus"],
            reason="whatever",
            actor_id=operator.pk,
            idempotency_key=imports.row_key(set_based.sha256, number, "stored_value"),
            source="migration",
            reference=imports.row_reference(set_based.sha256, number),
        )
        assert posting.replayed and posting.entry_id == row.postings["stored_value"]
    assert_ledgers_consistent()


def test_accepted_errors_commit_the_good_rows_only(operator, catalogue):
    job = dry_run([member_row(1), member_row(2, 储值本金="-1")], operator=operator)
    imports.import_accept_errors(job_id=job.pk)
    job = committed(job)
    assert Member.objects.filter(openid__startswith="oOLD").count() == 1
    assert job.rows.get(number=3).status == RowStatus.ERROR


# --- undo -------------------------------------------------------------------------------------------


def test_undo_reverses_every_balance_with_entries_and_keeps_the_ledgers_consistent(operator, catalogue):
    job = committed(dry_run([full_row(1), full_row(2)], operator=operator))
    entries_before = PointsEntry.objects.count() + StoredValueEntry.objects.count()
    job = imports.import_undo(job_id=job.pk, actor_id=operator.pk)
    assert job.status == JobStatus.UNDONE
    assert PointsEntry.objects.count() + StoredValueEntry.objects.count() == entries_before + 6
    assert not PointsLot.objects.filter(remaining__gt=0).exists()
    assert set(StoredValueAccount.objects.values_list("principal_fen", "bonus_fen")) == {(0, 0)}
    assert set(Coupon.objects.values_list("status", flat=True)) == {"voided"}
    assert set(MembershipCard.objects.values_list("status", flat=True)) == {"revoked"}
    assert set(Membership.objects.values_list("growth_total", flat=True)) == {0}
    assert Member.objects.filter(openid__startswith="oOLD").count() == 2  # members stay
    assert_ledgers_consistent()


def test_undo_is_refused_with_who_and_what_after_a_member_spent(operator, catalogue):
    job = committed(dry_run([member_row(1), member_row(2)], operator=operator))
    spender = Member.objects.get(openid="oOLD00000002")
    points_ledger.points_spend(member_id=spender.pk, amount=30, idempotency_key="spend-1", source="order")
    sv_ledger.stored_value_spend(member_id=spender.pk, amount_fen=500, idempotency_key="sv-1", source="order")
    before = ledgers()
    blockers = imports.import_undo_blockers(job_id=job.pk)
    assert [(b.row, b.member_id) for b in blockers] == [(3, spender.pk), (3, spender.pk)]
    assert {b.what for b in blockers} == {"积分已被使用（使用）", "储值已被使用（使用）"}
    with pytest.raises(ImportUndoBlocked) as refused:
        imports.import_undo(job_id=job.pk, actor_id=operator.pk)
    assert len(refused.value.details["blockers"]) == 2
    assert ledgers() == before
    job.refresh_from_db()
    assert job.status == JobStatus.COMMITTED


def test_expiry_does_not_block_undo(operator, catalogue):
    job = committed(dry_run([member_row(1, 积分1到期="2020-1-1")], operator=operator))
    points_ledger.points_expire_due(pause=0)
    assert imports.import_undo_blockers(job_id=job.pk) == []
    imports.import_undo(job_id=job.pk, actor_id=operator.pk)
    assert not PointsLot.objects.filter(remaining__gt=0).exists()
    assert_ledgers_consistent()


def test_the_commit_is_routed_to_the_bulk_queue_after_the_transaction(
    operator, catalogue, django_capture_on_commit_callbacks
):
    job = dry_run([member_row(1)], operator=operator)
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_commit_start(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.COMMITTED
    assert timedelta(0) <= timezone.now() - job.committed_at < timedelta(minutes=1)


def test_rows_without_an_openid_get_members_of_their_own_found_again_by_the_same_file(operator, catalogue):
    rows = [member_row(1, 会员ID=""), member_row(2, 会员ID=""), member_row(3)]
    job = committed(dry_run(rows, operator=operator))
    created = Member.objects.filter(openid__startswith="import_")
    assert created.count() == 2
    assert set(created.values_list("phone", flat=True)) == {"13900000001", "13900000002"}
    again = dry_run(rows, operator=operator, match_rule="add")
    assert again.totals["members_matched"] == 3
    committed(again)
    assert Member.objects.filter(phone__startswith="139").count() == 3
    assert job.rows.filter(status=RowStatus.IMPORTED).count() == 3


def test_the_liability_report_counts_imported_stored_value_from_the_day_of_the_import(
    operator, catalogue, settings
):
    from stored_value.sql import liability_by_day

    committed(dry_run([member_row(1), member_row(2)], operator=operator))
    today = timezone.localdate()
    (day,) = liability_by_day(today, today, settings.TIME_ZONE)
    assert (day.principal_fen, day.bonus_fen) == (240_000, 2_500)


def test_a_chunk_takes_its_members_locks_rank_by_rank_before_posting_them(operator, catalogue, monkeypatch):
    """The chunk's postings to existing members take no lock the chunk has not taken first, in rank order
    (loyalty.locks.Rank), for all its members at once."""
    from loyalty import locks
    from loyalty.locks import Rank

    for n in (1, 2, 3):
        MemberFactory(phone=f"139{n:08d}")
    job = dry_run([full_row(n) for n in (1, 2, 3)], operator=operator, match_rule="add")
    imports.import_commit_start(job_id=job.pk)
    real, bounds = imports._lock_chunk, []

    def lock_chunk(job, rows):
        bounds.append(len(trail))
        real(job, rows)
        bounds.append(len(trail))

    monkeypatch.setattr(imports, "_lock_chunk", lock_chunk)
    with locks.recording() as trail:
        job = imports.import_commit_run(job_id=job.pk)
    assert job.committed_rows == 3
    start, end = bounds
    first = [rank for rank, _what in trail[start:end]]
    assert first == sorted(first)
    assert {Rank.MEMBERSHIP, Rank.COUPON_CLAIM, Rank.MEMBER, Rank.COUPON_TEMPLATE, Rank.POINTS} <= set(first)
    assert Rank.STORED_VALUE in first
    chunk = trail[end:]
    chunk = chunk[
        : next(i for i, (rank, _what) in enumerate(chunk) if rank == Rank.DOCUMENT)
    ]  # the next chunk
    # a member's cards are only ever locked under their membership row, which the chunk holds
    assert {rank for rank, _what in chunk} <= {*first, Rank.CARD}
    assert_ledgers_consistent()


@pytest.mark.parametrize("bulk", [True, False])
def test_an_invite_code_drawn_twice_is_drawn_again_not_a_failed_row(operator, settings, monkeypatch, bulk):
    """8 random hex characters collide about a hundred times in a million members: the row whose code
    a member holds already gets a fresh one, on either path (the set-based insert leaves the row to the
    one-by-one path, whose own first draw collides again here)."""
    settings.MIGRATION_BULK = bulk
    taken = MemberFactory(invite_code="DEADBEEF")
    field = Member._meta.get_field("invite_code")
    real, draws = field.default, iter(["DEADBEEF", "DEADBEEF"])
    monkeypatch.setattr(field, "default", lambda: next(draws, None) or real())
    job = committed(dry_run([member_row(1)], operator=operator))
    row = job.rows.get()
    assert (job.status, job.committed_rows, row.status) == (JobStatus.COMMITTED, 1, RowStatus.IMPORTED)
    assert row.member.invite_code not in ("", taken.invite_code)
    assert next(draws, None) is None  # both collisions were drawn
    assert_ledgers_consistent()


def test_a_chunk_ended_by_a_deadlock_is_claimed_again(operator, settings, monkeypatch):
    """PostgreSQL ends one of two chunks that wait on each other (each drew an invite code the other
    inserted): the chunk rolled back whole and the committer claims it again."""
    from django.db import OperationalError

    settings.MIGRATION_COMMIT_CHUNK = 2
    job = dry_run([member_row(n) for n in range(1, 6)], operator=operator)
    imports.import_commit_start(job_id=job.pk)
    real, calls = imports._commit_chunk, {"n": 0}

    class Deadlock(Exception):
        pgcode = imports.DEADLOCK_DETECTED

    def deadlocked_once(job, first, last):
        imported = real(job, first, last)
        calls["n"] += 1
        if calls["n"] == 2:
            raise OperationalError("deadlock detected") from Deadlock()
        return imported

    monkeypatch.setattr(imports, "_commit_chunk", deadlocked_once)
    job = imports.import_commit_run(job_id=job.pk)
    assert (job.status, job.committed_rows, calls["n"]) == (JobStatus.COMMITTED, 5, 4)
    assert Member.objects.count() == 5
    assert_ledgers_consistent()
