"""The operators' daily journeys in a real browser (Debian's chromium): a Wednesday member day with ×2
points, ten mall orders shipped (five from the queue, five from a file), a member's points adjusted with a
reason, a recharge refunded, and last month read on the dashboard and downloaded.

Each journey is walked at 1366×768; on every page with an action, ``on_screen`` checks that the action is
inside the window at 1366×768 and at 1920×1080 and saves what the operator sees at both sizes to
``test-artefacts/browser/``.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import timezone

from analytics.periods import preset_range
from mall.models import Redemption
from membership.benefits import member_benefits
from membership.models import MemberDay
from payments import services as payments
from points.models import PointsEntry
from stored_value.models import StoredValueEntry
from tests.analytics.helpers import registered
from tests.browser.helpers import log_in, on_screen, shot
from tests.factories import (
    EarnedPointsFactory,
    MallItemFactory,
    MemberFactory,
    OrderFactory,
    RechargePlan1500Factory,
)
from tests.helpers import points_of
from tests.mall.helpers import address, redeem
from tests.stored_value.helpers import parts
from tests.stored_value.recharge_helpers import start_recharge

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("many-connections"),
]

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def viewport() -> dict:
    return {"width": 1366, "height": 768}


def saved(page) -> str:
    page.wait_for_selector(".messagelist .success")
    return page.inner_text(".messagelist")


def test_an_operator_sets_a_wednesday_member_day_with_double_points(page, live_server):
    member = MemberFactory()
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/membership/memberday/")
    on_screen(page, "member-days", page.locator("a[href$='/memberday/add/']").first)
    page.locator("a[href$='/memberday/add/']").first.click()

    page.fill("#id_name", "周三会员日")
    page.select_option("#id_recurrence", "weekly")
    assert page.locator(".field-weekday").first.is_visible()
    assert not page.locator(".field-day_of_month").first.is_visible()
    page.select_option("#id_weekday", label="星期三")
    page.fill("#id_points_multiplier", "2")
    page.fill("#id_extra_discount_bp", "9.5")  # 折: the member pays 95 %
    on_screen(page, "member-day-form", page.locator("[name=_save]"))
    page.click("[name=_save]")
    saved(page)
    row = page.inner_text("#result_list")
    assert "周三会员日" in row and "星期三" in row and "×2" in row and "9.5折" in row
    assert "weekly" not in row and "500" not in row  # labels and 折, never the codes or basis points
    shot(page, "member-day-saved")

    day = MemberDay.objects.get()
    assert (day.recurrence, day.weekday, day.points_multiplier, day.extra_discount_bp, day.audience) == (
        "weekly", 2, 2, 500, "everyone",
    )  # fmt: skip
    wednesday = datetime(2026, 12, 9, 10, tzinfo=SHANGHAI)
    assert member_benefits(member_id=member.pk, at=wednesday).points_multiplier == 2
    assert member_benefits(member_id=member.pk, at=wednesday + timedelta(days=1)).points_multiplier == 1


def shop_queue(n: int) -> list[Redemption]:
    """``n`` members each redeemed a physical item to their address: the fulfilment queue."""
    item = MallItemFactory(name="保温杯（积分兑换）", stock=50)
    queue = []
    for i in range(n):
        member = MemberFactory(nickname=f"会员{i}")
        EarnedPointsFactory(member=member, amount=1_000)
        home = address(member, recipient=f"收件人{i}", detail=f"西湖路{i + 1}号")
        queue.append(redeem(member, item, key=f"r{i}", address_id=home.pk))
    return queue


def test_an_operator_ships_ten_mall_orders_five_from_the_queue_and_five_from_a_file(page, live_server):
    queue = shop_queue(10)
    base = live_server.url
    log_in(page, base)

    page.goto(f"{base}/admin/mall/redemption/")
    page.locator("#nav-sidebar-apps").get_by_role("link", name="待发货队列").click()
    page.wait_for_url("**status__exact=paid**")
    for i, r in enumerate(queue[:5]):
        ship = page.locator(f'#result_list a[href="/admin/mall/redemption/{r.pk}/ship/"]')
        if i == 0:
            on_screen(page, "fulfilment-queue", ship)
        ship.click()
        if i == 0:  # the other carrier's name is asked for only when 其他 is chosen
            page.select_option("#id_carrier", "其他")
            assert page.locator(".field-other_carrier").is_visible()
        page.select_option("#id_carrier", "顺丰速运")
        assert not page.locator(".field-other_carrier").is_visible()
        page.fill("#id_tracking_no", f"SF10000000{i}")
        if i == 0:
            on_screen(page, "ship-form", page.locator("#content-main button[type=submit]"))
        page.click("#content-main button[type=submit]")
        assert "已标记为已发货" in saved(page) or saved(page)
        assert "status__exact=paid" in page.url  # back on the queue, for the next one
    assert page.locator("#result_list tbody tr").count() == 5

    lines = ["编号,快递公司,运单号"] + [f"{r.no},中通,ZT20000000{i}" for i, r in enumerate(queue[5:])]
    page.locator("#header-inner").get_by_role("link", name="从文件批量发货").click()
    page.set_input_files(
        "#id_tracking_file",
        files=[{"name": "运单.csv", "mimeType": "text/csv", "buffer": "\n".join(lines).encode("utf-8")}],
    )
    on_screen(page, "ship-file-form", page.locator("#content-main button[type=submit]"))
    page.click("#content-main button[type=submit]")
    assert "5 行中的 5 行已标记为已发货" in saved(page) or "5" in saved(page)
    shot(page, "ship-file-result")

    shipped = {r.no: (r.status, r.carrier, r.tracking_no) for r in Redemption.objects.all()}
    assert shipped == {
        **{r.no: ("shipped", "顺丰速运", f"SF10000000{i}") for i, r in enumerate(queue[:5])},
        **{r.no: ("shipped", "中通快递", f"ZT20000000{i}") for i, r in enumerate(queue[5:])},
    }
    page.locator("#nav-sidebar-apps").get_by_role("link", name="待发货队列").click()
    assert page.locator("#result_list tbody tr").count() == 0
    page.goto(f"{base}/admin/mall/redemption/")  # a shipped order offers to correct its tracking, not to ship
    actions = page.inner_text("#result_list")
    assert "修改物流" in actions and "发货" not in actions.replace("已发货", "")


def test_an_operator_adjusts_a_members_points_with_a_reason(page, live_server):
    member = MemberFactory(nickname="积分待补的会员", phone="13900001234")
    EarnedPointsFactory(member=member, amount=1_200)
    log_in(page, live_server.url)

    page.goto(f"{live_server.url}/admin/members/member/")
    page.fill("#searchbar", "13900001234")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=13900001234**")
    adjust = page.locator("#result_list a", has_text="调整积分")
    on_screen(page, "member-list", adjust)
    adjust.click()
    page.fill("#id_amount", "300")
    page.fill("#id_reason", "活动积分漏发，按工单 #8812 补发")
    on_screen(page, "points-adjust-form", page.locator("#content-main button[type=submit]"))
    page.click("#content-main button[type=submit]")
    assert "1500" in saved(page).replace(",", "")
    shot(page, "points-adjusted")

    assert points_of(member) == 1_500
    entry = PointsEntry.objects.filter(account__member=member).latest("id")
    assert (entry.kind, entry.amount, entry.memo) == ("adjust", 300, "活动积分漏发，按工单 #8812 补发")
    assert LogEntry.objects.filter(change_message__contains="按工单 #8812 补发").exists()


def test_an_operator_refunds_a_recharge(page, live_server):
    member = MemberFactory(nickname="退卡的会员")
    order, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    payments.payment_simulate_pay(payment=payment)
    log_in(page, live_server.url)

    page.goto(f"{live_server.url}/admin/stored_value/rechargeorder/")
    refund = page.locator(f'#result_list a[href="/admin/stored_value/rechargeorder/{order.pk}/refund/"]')
    on_screen(page, "recharge-orders", refund)
    refund.click()
    summary = page.inner_text("#content-main")
    assert "¥1,500.00" in summary and "¥150.00" in summary  # what goes back, and what bonus is forfeited
    page.fill("#id_reason", "顾客搬家退卡")
    on_screen(page, "recharge-refund-form", page.locator("#content-main button[type=submit]"))
    page.click("#content-main button[type=submit]")
    assert "¥1,500.00" in saved(page)
    shot(page, "recharge-refunded")

    order.refresh_from_db()
    assert (order.status, order.refunded_fen, order.forfeited_bonus_fen) == ("refunded", 150_000, 15_000)
    assert parts(member) == (0, 0)
    assert StoredValueEntry.objects.filter(account__member=member, kind="recharge_refund").count() == 1
    assert "¥1,500.00" in page.inner_text("#result_list")


def test_an_operator_reads_last_month_on_the_dashboard_and_downloads_its_csv(page, live_server):
    today = timezone.localdate()
    first, last = preset_range("last_month", today=today)
    members = [MemberFactory() for _ in range(3)]
    paid = [12_800, 25_900, 3_900]
    for i, (member, fen) in enumerate(zip(members, paid, strict=True)):
        registered(member, timezone.now() - timedelta(days=200))
        at = datetime.combine(first + timedelta(days=3 * i + 1), datetime.min.time(), SHANGHAI) + timedelta(
            hours=12
        )
        OrderFactory(member=member, at=at, cash_fen=fen)
    OrderFactory(member=members[0], at=timezone.now(), cash_fen=99_900)  # this month: not in last month's
    log_in(page, live_server.url)

    page.goto(f"{live_server.url}/admin/analytics/dailymetrics/")
    page.get_by_role("link", name="上月").click()
    assert (
        page.input_value("#id_start") == first.isoformat() and page.input_value("#id_end") == last.isoformat()
    )
    refresh = page.locator("form[action$='/refresh/'] button[type=submit]")
    on_screen(page, "dashboard-last-month", refresh, page.get_by_role("link", name="上月"))
    refresh.click()
    saved(page)
    page.wait_for_function("() => window.Chart && Chart.getChart('c-sales')")
    sales = page.evaluate("() => Chart.getChart('c-sales').data.datasets[0].data")
    assert len(sales) == (last - first).days + 1 and sum(sales) == pytest.approx(sum(paid) / 100)
    shot(page, "dashboard-last-month")
    compare = page.inner_text("#content-main .lo-table")
    assert "¥426.00" in compare, compare  # 128 + 259 + 39, in the comparison table

    with page.expect_download() as download:
        page.get_by_role("link", name="每日数据").click()
    assert download.value.suggested_filename == f"每日数据_{first}_{last}.csv"
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8-sig").read())))
    assert rows[0][:4] == ["日期", "消费笔数", "购买人数", "净实付（元）"]
    assert len(rows) == 1 + (last - first).days + 1
    assert sorted(r[3] for r in rows[1:] if r[3] != "0.00") == ["128.00", "259.00", "39.00"]
