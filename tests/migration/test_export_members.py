"""The operators' member export: every open member with what is owed to them, as CSV or XLSX.

The page starts an export job (the worker writes the file: eager here, run when the request commits);
the file is then downloaded from the job's page (tests/migration/test_export_jobs.py: the job itself).
"""

import io
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import timezone, translation
from openpyxl import load_workbook

from members.models import Member
from migration import exports
from migration.export_views import EXPORTED
from migration.models import ExportJob
from tests.factories import MemberFactory
from tests.helpers import csv_download, page_text
from tests.migration.export_helpers import operator, rich_member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("default_rules")]

URL = "/admin/members/export/"

HEADER = [
    "会员ID",
    "openid",
    "unionid",
    "手机号",
    "昵称",
    "性别",
    "生日",
    "注册时间",
    "注册渠道",
    "注册渠道名称",
    "等级编号",
    "等级名称",
    "成长值",
    "标签",
    "积分余额",
    "积分批次（剩余积分@过期时间）",
    "储值本金（元）",
    "储值赠送金（元）",
    "会员卡（卡种@有效期至）",
    "未使用优惠券（券名@有效期至）",
]


@pytest.fixture
def exporter(client):
    user = operator("exporter", "members.export_members", "members.view_member")
    client.force_login(user)
    return user


@pytest.fixture
def alice(exporter):
    return rich_member(nickname="小王", openid="o-alice", unionid="u-alice", actor=exporter)


@pytest.fixture
def export(client, django_capture_on_commit_callbacks):
    """Start an export as the page's form does, let the worker write it, and download the file."""

    def run(**data):
        with django_capture_on_commit_callbacks(execute=True):
            started = client.post(URL, data)
        job = ExportJob.objects.latest("id")
        assert (
            started.status_code == 302
            and started["Location"] == f"/admin/migration/exportjob/{job.pk}/change/"
        )
        return client.get(f"/admin/migration/exportjob/{job.pk}/download/")

    return run


def expected_alice(alice) -> dict:
    return {
        "会员ID": str(alice.pk),
        "openid": "o-alice",
        "unionid": "u-alice",
        "手机号": "13800138000",
        "昵称": "小王",
        "性别": "女",
        "生日": "1995-04-12",
        "注册时间": timezone.localtime(alice.registered_at).strftime("%Y-%m-%d %H:%M:%S"),
        "注册渠道": "store1",
        "注册渠道名称": "一号店",
        "等级编号": "1",
        "等级名称": "银卡",
        "成长值": "500",
        "标签": "老客;高价值",
        "积分余额": "500",
        "积分批次（剩余积分@过期时间）": "300@2099-01-01 00:00:00;200@",
        "储值本金（元）": "1500.00",
        "储值赠送金（元）": "150.05",
        "会员卡（卡种@有效期至）": "黑金卡@2099-06-30 23:59:59",
        "未使用优惠券（券名@有效期至）": '\'=HYPERLINK("x")@2099-02-01 00:00:00;满100减20@2099-03-01 23:59:59',
    }


def test_every_open_member_is_a_row_with_what_is_owed_to_them(export, alice):
    bob = MemberFactory(nickname="老李", openid="o-bob")
    MemberFactory(nickname="", phone="", openid="closed_x", closed_at=timezone.now())

    name, rows = csv_download(export(format="csv"))

    assert name == f"会员导出_{timezone.localdate()}_{ExportJob.objects.get().pk}.csv"
    assert list(rows[0]) == HEADER
    assert [r["会员ID"] for r in rows] == [str(alice.pk), str(bob.pk)]  # the closed account is left out
    assert rows[0] == expected_alice(alice)
    assert {k: v for k, v in rows[1].items() if k not in ("会员ID", "注册时间")} == {
        "openid": "o-bob",
        "unionid": "",
        "手机号": bob.phone,
        "昵称": "老李",
        "性别": "未知",
        "生日": "",
        "注册渠道": "mini_program",  # the factory's code, no channel of that name
        "注册渠道名称": "",
        "等级编号": "0",
        "等级名称": rows[1]["等级名称"],  # the entry tier's name, whatever the defaults call it
        "成长值": "0",
        "标签": "",
        "积分余额": "0",
        "积分批次（剩余积分@过期时间）": "",
        "储值本金（元）": "0.00",
        "储值赠送金（元）": "0.00",
        "会员卡（卡种@有效期至）": "",
        "未使用优惠券（券名@有效期至）": "",
    }


def test_the_xlsx_holds_the_same_rows_with_amounts_as_numbers_and_formulas_as_text(export, alice):
    response = export(format="xlsx")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book.worksheets[0]
    assert sheet.title == "会员导出"
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == HEADER
    assert len(rows) == 2
    row = dict(zip(HEADER, rows[1], strict=True))
    assert row["会员ID"] == alice.pk and row["积分余额"] == 500 and row["成长值"] == 500
    assert row["储值本金（元）"] == 1500 and row["储值赠送金（元）"] == pytest.approx(150.05)
    assert sheet.cell(row=2, column=HEADER.index("储值赠送金（元）") + 1).number_format == "0.00"
    assert row["未使用优惠券（券名@有效期至）"].startswith("'=HYPERLINK")
    assert all(cell.data_type != "f" for line in sheet.iter_rows() for cell in line)  # no formula anywhere


def test_a_nickname_a_spreadsheet_would_run_is_quoted_in_both_formats(export, exporter):
    rich_member(nickname='=HYPERLINK("http://evil","x")', phone="+8613800000000", actor=exporter)

    _, rows = csv_download(export(format="csv"))
    book = load_workbook(io.BytesIO(b"".join(export(format="xlsx").streaming_content)))
    xlsx = list(book.worksheets[0].iter_rows(values_only=True))[1]

    assert rows[0]["昵称"] == '\'=HYPERLINK("http://evil","x")'
    assert rows[0]["手机号"] == "'+8613800000000"
    assert xlsx[HEADER.index("昵称")] == '\'=HYPERLINK("http://evil","x")'


def test_the_member_lists_filter_narrows_the_export(export, alice):
    MemberFactory(nickname="老李", gender=1)

    _, rows = csv_download(export(format="csv", filters="gender__exact=2", use_filters="on"))
    _, everyone = csv_download(export(format="csv", filters="gender__exact=2"))

    assert [r["会员ID"] for r in rows] == [str(alice.pk)]
    assert len(everyone) == 2  # the box unticked: every member


def test_every_export_and_every_download_is_recorded_with_who_what_and_when(client, export, exporter, alice):
    csv_download(export(format="csv", filters="gender__exact=2", use_filters="on"))
    export(format="xlsx")
    first, second = ExportJob.objects.order_by("id")

    entries = list(LogEntry.objects.filter(action_flag=EXPORTED).order_by("id"))
    assert [(e.user_id, e.change_message) for e in entries] == [
        (exporter.pk, f"开始：会员导出 #{first.pk}（CSV） · 筛选：gender__exact=2"),
        (exporter.pk, f"下载：会员导出 #{first.pk}（CSV） · 筛选：gender__exact=2"),
        (exporter.pk, f"开始：会员导出 #{second.pk}（XLSX）"),
        (exporter.pk, f"下载：会员导出 #{second.pk}（XLSX）"),
    ]
    assert entries[0].content_type.model_class() is Member
    page = page_text(client.get(URL))
    assert f"下载：会员导出 #{second.pk}（XLSX）" in page and "exporter" in page


def test_a_filter_the_list_no_longer_accepts_is_said_so_and_nothing_is_exported(client, alice):
    response = client.post(URL, {"format": "csv", "filters": "nope__exact=1", "use_filters": "on"})

    assert response.status_code == 200
    assert "会员列表的筛选条件已失效" in page_text(response)
    assert not LogEntry.objects.filter(action_flag=EXPORTED).exists() and not ExportJob.objects.exists()


def test_an_operator_without_the_export_permission_gets_neither_the_page_nor_the_file(client, alice):
    client.force_login(operator("clerk", "members.view_member"))

    assert client.get(URL).status_code == 403
    assert client.post(URL, {"format": "csv"}).status_code == 403
    assert "导出会员" not in page_text(client.get("/admin/members/member/"))
    assert not LogEntry.objects.filter(action_flag=EXPORTED).exists() and not ExportJob.objects.exists()


def test_the_member_list_and_the_sidebar_lead_to_the_export_with_the_lists_filter(client, alice):
    page = client.get("/admin/members/member/", {"gender__exact": "2"}).content.decode()

    assert "/admin/members/export/?filters=gender__exact%3D2" in page
    assert 'href="/admin/members/export/"' in page  # the sidebar
    form = client.get(URL, {"filters": "gender__exact=2"})
    assert "gender__exact=2" in page_text(form) and "文件格式" in page_text(form)
    assert "只导出会员列表当前筛选出的会员" in page_text(form)
    assert "只导出会员列表当前筛选出的会员" not in page_text(client.get(URL))  # from the sidebar: no filter


def test_rows_are_the_same_whatever_the_chunk_size(exporter):
    members = [rich_member(nickname=f"m{i}", phone=f"1380000000{i}", actor=exporter) for i in range(3)]
    MemberFactory(closed_at=timezone.now(), openid="closed_y", phone="", nickname="")

    one_by_one = list(exports.member_export_rows(chunk_size=1))
    at_once = list(exports.member_export_rows(chunk_size=1000))

    assert one_by_one == at_once
    assert [row[0] for row in at_once] == [m.pk for m in members]
    assert at_once[0][16:18] == [Decimal("1500.00"), Decimal("150.05")]


def test_the_columns_are_written_once_with_the_fields_the_import_reads():
    assert [c.field for c in exports.COLUMNS] == [
        "member_id",
        "openid",
        "unionid",
        "phone",
        "nickname",
        "gender",
        "birthday",
        "registered_at",
        "channel",
        "channel_name",
        "tier_level",
        "tier_name",
        "growth",
        "tags",
        "points_balance",
        "points_lots",
        "principal",
        "bonus",
        "cards",
        "coupons",
    ]
    with translation.override("zh-hans"):
        assert [str(label) for label in exports.header()] == HEADER
