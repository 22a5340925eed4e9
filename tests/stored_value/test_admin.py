"""The stored-value back office: adjust and freeze behind permissions, read-only ledger, liability report."""

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import timezone

from stored_value.models import (
    FreezeEvent,
    RechargePlan,
    StoredValueAccount,
    StoredValueEntry,
    StoredValuePolicy,
)
from tests.factories import GiftPackFactory, RechargeFactory, RechargePlan1500Factory
from tests.helpers import assert_reads_as_the_admin, csv_download
from tests.points.test_admin import staff
from tests.stored_value.helpers import parts, snapshot, spend

pytestmark = pytest.mark.django_db


def account_url(member, action):
    return (
        f"/admin/stored_value/storedvalueaccount/{StoredValueAccount.objects.get(member=member).pk}/{action}/"
    )


def test_the_account_list_shows_amounts_in_yuan(admin_client, member):
    RechargeFactory(member=member, amount_fen=150_000, bonus_fen=15_000)

    page = admin_client.get("/admin/stored_value/storedvalueaccount/").content.decode()

    assert "¥1,500.00" in page and "¥150.00" in page


def test_staff_without_the_adjust_permission_cannot_adjust(client, member):
    RechargeFactory(member=member, amount_fen=10_000)
    staff(client, "clerk")
    before = snapshot(member)

    assert client.get(account_url(member, "adjust")).status_code == 403
    response = client.post(
        account_url(member, "adjust"),
        {"principal_fen": "1.00", "bonus_fen": "0", "reason": "r", "idempotency_key": "k"},
    )

    assert response.status_code == 403
    assert snapshot(member) == before


def test_an_adjustment_needs_a_reason_and_an_amount(client, member):
    RechargeFactory(member=member, amount_fen=10_000)
    staff(client, "finance", "stored_value.adjust_stored_value")
    before = snapshot(member)

    no_reason = client.post(
        account_url(member, "adjust"), {"principal_fen": "1.00", "bonus_fen": "0", "idempotency_key": "k"}
    )
    nothing = client.post(
        account_url(member, "adjust"),
        {"principal_fen": "0", "bonus_fen": "0.00", "reason": "r", "idempotency_key": "k"},
    )

    assert "reason" in no_reason.context["form"].errors
    assert nothing.context["form"].non_field_errors()
    assert snapshot(member) == before


def test_an_adjustment_posts_an_entry_with_the_operator_and_logs_it_once(client, member):
    RechargeFactory(member=member, amount_fen=10_000, bonus_fen=1_000)
    operator = staff(client, "finance", "stored_value.adjust_stored_value")
    form = {"principal_fen": "-25.00", "bonus_fen": "3", "reason": "till miscount", "idempotency_key": "k1"}

    first = client.post(account_url(member, "adjust"), form)
    client.post(account_url(member, "adjust"), form)  # a double submit

    assert first.status_code == 302
    assert parts(member) == (7_500, 1_300)
    entry = StoredValueEntry.objects.get(kind="adjust")
    assert (entry.actor_id, entry.memo) == (operator.pk, "till miscount")
    assert LogEntry.objects.filter(user=operator, change_message__contains="till miscount").count() == 1


def test_an_adjustment_below_zero_is_a_form_error_and_writes_nothing(client, member):
    RechargeFactory(member=member, amount_fen=10_000)
    staff(client, "finance", "stored_value.adjust_stored_value")
    before = snapshot(member)

    response = client.post(
        account_url(member, "adjust"),
        {"principal_fen": "-100.01", "bonus_fen": "0", "reason": "r", "idempotency_key": "k"},
    )

    assert response.status_code == 200 and response.context["form"].non_field_errors()
    assert snapshot(member) == before


def test_freezing_needs_its_permission_and_records_the_operator_and_reason(client, member):
    RechargeFactory(member=member, amount_fen=10_000)
    url = account_url(member, "freeze")
    staff(client, "clerk")
    assert client.post(url, {"reason": "x", "idempotency_key": "k"}).status_code == 403
    assert not StoredValueAccount.objects.get(member=member).frozen

    client.logout()
    agent = staff(client, "service", "stored_value.freeze_stored_value")
    client.post(url, {"reason": "reported stolen phone", "idempotency_key": "k"})

    account = StoredValueAccount.objects.get(member=member)
    assert account.frozen and account.frozen_reason == "reported stolen phone"
    assert list(FreezeEvent.objects.values_list("frozen", "actor", "reason")) == [
        (True, agent.pk, "reported stolen phone")
    ]

    client.post(url, {"reason": "found it", "idempotency_key": "k2"})
    assert not StoredValueAccount.objects.get(member=member).frozen


def test_the_ledger_is_read_only(admin_client, member):
    RechargeFactory(member=member, amount_fen=10_000)
    entry = StoredValueEntry.objects.get()

    assert admin_client.get("/admin/stored_value/storedvalueentry/").status_code == 200
    assert admin_client.get("/admin/stored_value/storedvalueentry/add/").status_code == 403
    admin_client.post(f"/admin/stored_value/storedvalueentry/{entry.pk}/delete/", {"post": "yes"})
    assert StoredValueEntry.objects.filter(pk=entry.pk).exists()


def test_the_ledger_export_honours_the_filters(admin_client, member):
    RechargeFactory(member=member, amount_fen=10_000, bonus_fen=1_000)
    spend(member, 1_100)

    name, rows = csv_download(
        admin_client.get("/admin/stored_value/storedvalueentry/export/", {"kind__exact": "spend"})
    )

    assert name == f"储值流水_{timezone.localdate()}.csv"
    assert_reads_as_the_admin(rows, "spend", "recharge")
    assert [
        (r["会员ID"], r["会员"], r["类型"], r["本金部分（元）"], r["赠送金部分（元）"]) for r in rows
    ] == [(str(member.pk), str(member), "使用", "-10.00", "-1.00")]
    assert rows[0]["变动后本金（元）"] == "90.00" and rows[0]["变动后赠送金（元）"] == "9.00"


def test_the_liability_report_shows_what_is_owed_at_the_end_of_each_day(admin_client, member):
    RechargeFactory(member=member, amount_fen=150_000, bonus_fen=15_000)
    spend(member, 160_000)
    today = timezone.localdate()
    start = today - timedelta(days=1)

    page = admin_client.get("/admin/stored_value/storedvalueaccount/liability/")
    name, rows = csv_download(
        admin_client.get(
            "/admin/stored_value/storedvalueaccount/liability/",
            {"start": str(start), "end": str(today), "format": "csv"},
        )
    )

    assert page.status_code == 200
    html = page.content.decode()
    assert "¥45.46" in html and "¥4.54" in html and "¥50.00" in html  # owed: docs/rules/stored-value.md
    assert "chart.umd.min.js" in html and "liability-chart" in html
    assert name == f"储值负债_{start}_{today}.csv"
    assert_reads_as_the_admin(rows)
    assert [list(r.values()) for r in rows] == [
        [str(start), "0.00", "0.00", "0.00"],
        [str(today), "45.46", "4.54", "50.00"],
    ]
    assert list(rows[0]) == ["日期", "本金（元）", "赠送金（元）", "合计（元）"]


def test_a_bad_liability_range_falls_back_to_the_last_thirty_days(admin_client):
    response = admin_client.get(
        "/admin/stored_value/storedvalueaccount/liability/", {"start": "2026-12-01", "end": "2026-01-01"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors
    assert len(response.context["rows"]) == 30


def _paid_recharge(member):
    from payments import services as payments
    from tests.stored_value.recharge_helpers import start_recharge

    order, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    payments.payment_simulate_pay(payment=payment)
    order.refresh_from_db()
    return order


def test_staff_without_the_refund_permission_cannot_refund_a_recharge(client, member):
    order = _paid_recharge(member)
    staff(client, "clerk", "stored_value.view_rechargeorder")
    before = snapshot(member)
    url = f"/admin/stored_value/rechargeorder/{order.pk}/refund/"

    assert client.get(url).status_code == 403
    assert client.post(url, {"reason": "r", "idempotency_key": "k"}).status_code == 403
    assert snapshot(member) == before


def test_finance_refunds_a_recharge_from_the_order_list(client, member, django_capture_on_commit_callbacks):
    order = _paid_recharge(member)
    spend(member, 55_000)
    staff(client, "finance", "stored_value.view_rechargeorder", "stored_value.refund_recharge")
    url = f"/admin/stored_value/rechargeorder/{order.pk}/refund/"

    assert url in client.get("/admin/stored_value/rechargeorder/").content.decode()
    page = client.get(url).content.decode()
    assert "¥1,000.00" in page and "¥100.00" in page  # what is refundable now
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"reason": "顾客退卡", "idempotency_key": "k"})
        client.post(url, {"reason": "顾客退卡", "idempotency_key": "k"})  # a double click

    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.refunded_fen, order.forfeited_bonus_fen) == ("refunded", 100_000, 10_000)
    assert parts(member) == (0, 0)
    assert StoredValueEntry.objects.filter(kind="recharge_refund").count() == 1
    assert LogEntry.objects.filter(change_message__contains="顾客退卡").exists()


def test_the_refund_page_says_which_gifts_the_refund_takes_back(client, member):
    from payments import services as payments
    from tests.stored_value.recharge_helpers import start_recharge

    order, payment = start_recharge(member, RechargePlan1500Factory(gift_points=300), 150_000)
    payments.payment_simulate_pay(payment=payment)
    staff(client, "finance", "stored_value.view_rechargeorder", "stored_value.refund_recharge")
    url = f"/admin/stored_value/rechargeorder/{order.pk}/refund/"

    page = client.get(url).content.decode()
    assert "收回赠送积分：300" in page and "礼包一并收回" not in page  # the plan has no gift pack
    spend(member, 55_000)  # 50,000 principal spent: a third of 300 stays with the member
    page = client.get(url).content.decode()
    assert "收回赠送积分：200" in page and "礼包一并收回" not in page


def test_the_refund_page_warns_that_a_full_refund_takes_the_gift_pack_back(client, member):
    from payments import services as payments
    from tests.stored_value.recharge_helpers import start_recharge

    order, payment = start_recharge(
        member, RechargePlan1500Factory(gift_pack=GiftPackFactory(name="礼包")), 150_000
    )
    payments.payment_simulate_pay(payment=payment)
    staff(client, "finance", "stored_value.view_rechargeorder", "stored_value.refund_recharge")

    page = client.get(f"/admin/stored_value/rechargeorder/{order.pk}/refund/").content.decode()
    assert "礼包一并收回" in page


def test_payments_are_listed_read_only_with_their_refunds(admin_client, member):
    order = _paid_recharge(member)
    page = admin_client.get("/admin/payments/payment/").content.decode()
    assert order.out_trade_no in page and "¥1,500.00" in page
    assert admin_client.get("/admin/payments/payment/add/").status_code == 403


def test_recharge_orders_export_as_csv_with_the_status_filter(admin_client, member):
    order = _paid_recharge(member)
    from tests.stored_value.recharge_helpers import start_recharge

    start_recharge(member, RechargePlan1500Factory(), 10_000)  # still awaiting payment

    listing = admin_client.get("/admin/stored_value/rechargeorder/?status=credited").content.decode()
    assert "/admin/stored_value/rechargeorder/export/?status=credited" in listing
    name, rows = csv_download(admin_client.get("/admin/stored_value/rechargeorder/export/?status=credited"))

    assert name == f"充值订单_{timezone.localdate()}.csv"
    assert_reads_as_the_admin(rows, "credited", "created")
    assert [(r["ID"], r["会员"], r["实付金额（元）"], r["赠送金（元）"], r["状态"]) for r in rows] == [
        (str(order.pk), str(member), "1500.00", "150.00", "已到账")
    ]
    assert rows[0]["支付单号"] == order.out_trade_no and rows[0]["已退本金（元）"] == "0.00"


def test_the_account_page_shows_principal_and_bonus_in_yuan(admin_client, member):
    RechargeFactory(member=member, amount_fen=300_000, bonus_fen=30_000)
    account = StoredValueAccount.objects.get(member=member)

    page = admin_client.get(f"/admin/stored_value/storedvalueaccount/{account.pk}/change/").content.decode()

    assert "¥3,000.00" in page and "¥300.00" in page
    assert "300000" not in page and "30000<" not in page


def test_a_recharge_plan_and_its_tiers_are_typed_in_yuan(admin_client):
    response = admin_client.post(
        "/admin/stored_value/rechargeplan/add/",
        {
            "name": "充1500送150",
            "kind": "tiers",
            "min_fen": "1",
            "max_fen": "5,000",
            "ratio_pay": "10",
            "ratio_bonus": "0",
            "gift_points": "0",
            "is_active": "on",
            "sort_order": "0",
            "tiers-TOTAL_FORMS": "1",
            "tiers-INITIAL_FORMS": "0",
            "tiers-0-pay_fen": "1500",
            "tiers-0-bonus_fen": "¥150.00",
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    plan = RechargePlan.objects.get(name="充1500送150")
    assert (plan.min_fen, plan.max_fen) == (100, 500_000)
    assert list(plan.tiers.values_list("pay_fen", "bonus_fen")) == [(150_000, 15_000)]
    page = admin_client.get(f"/admin/stored_value/rechargeplan/{plan.pk}/change/").content.decode()
    assert 'value="1500.00"' in page and 'value="150.00"' in page and "充值满（分）" not in page


def test_the_balance_cap_is_typed_in_yuan(admin_client):
    url = f"/admin/stored_value/storedvaluepolicy/{StoredValuePolicy.objects.get().pk}/change/"
    response = admin_client.post(
        url, {"spend_order": "proportional", "balance_cap_fen": "8,000.50", "recharge_timeout_minutes": "15"}
    )

    assert response.status_code == 302
    assert StoredValuePolicy.objects.get().balance_cap_fen == 800_050
    assert "¥8,000.50" in admin_client.get("/admin/stored_value/storedvaluepolicy/").content.decode()


# --- a plan shows only the fields of its kind -----------------------------------------------------------


def _plan_form(*tiers, **fields):
    data = {
        "name": "充值方案",
        "kind": "tiers",
        "min_fen": "1",
        "max_fen": "5,000",
        "ratio_pay": "10",
        "ratio_bonus": "0",
        "gift_points": "0",
        "is_active": "on",
        "sort_order": "0",
        "tiers-TOTAL_FORMS": str(len(tiers)),
        "tiers-INITIAL_FORMS": "0",
        **fields,
    }
    for i, (pay, bonus) in enumerate(tiers):
        data[f"tiers-{i}-pay_fen"], data[f"tiers-{i}-bonus_fen"] = pay, bonus
    return data


def test_a_ratio_plan_keeps_its_ratio_and_has_no_tiers(admin_client):
    response = admin_client.post(
        "/admin/stored_value/rechargeplan/add/", _plan_form(name="充10送1", kind="ratio", ratio_bonus="1")
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    plan = RechargePlan.objects.get()
    assert (plan.kind, plan.ratio_pay, plan.ratio_bonus, plan.tiers.count()) == ("ratio", 10, 1, 0)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            _plan_form(("1500", "150"), ratio_bonus="1"),
            "不适用于「阶梯（按达到的最高档）」",
        ),  # ratio on a tiers plan
        (_plan_form(), "档位方案至少需要一个档位"),
        (_plan_form(("1500", "150"), kind="ratio", ratio_bonus="1"), "只有档位方案才有档位"),
        (_plan_form(kind="ratio"), "按比例赠送的方案需要填写比例"),
        (_plan_form(("100", "10"), min_fen="100", max_fen="50"), "最高金额低于最低金额"),
    ],
)
def test_a_plan_that_does_not_add_up_is_explained_in_chinese(admin_client, data, problem):
    response = admin_client.post("/admin/stored_value/rechargeplan/add/", data)

    assert response.status_code == 200
    assert problem in response.content.decode()
    assert not RechargePlan.objects.exists()
