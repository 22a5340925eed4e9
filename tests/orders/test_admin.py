"""The orders back office: settlement in ¥, lines, refunds, history, links to every entry and coupon."""

import pytest
from django.utils import timezone

from coupons import services as coupon_services
from members.models import Member
from membership.models import MemberDay, Tier
from orders import services
from orders.models import Order
from points import ledger as points_ledger
from tests.factories import CardTypeFactory, CouponTemplateFactory, RechargeFactory
from tests.helpers import assert_reads_as_the_admin, csv_download, page_text
from tests.orders.helpers import basket, commit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("default_rules")]


@pytest.fixture
def order(member):
    RechargeFactory(member=member, amount_fen=150_000, bonus_fen=15_000)
    points_ledger.points_earn(
        member_id=member.pk, amount=5_000, idempotency_key="s", source="t", expires_at=None
    )
    coupon_services.coupon_claim(member=member, template_id=CouponTemplateFactory().pk, idempotency_key="k")
    order = commit(member, basket(("BUNDLE", 160_000, 1), points=1_000, stored_value_fen=100_000), "ADM-1")
    services.order_complete(order_no="ADM-1")
    services.order_refund(order_no="ADM-1", refund_no="R-1")
    order.refresh_from_db()
    return order


def test_an_order_page_shows_the_settlement_and_links_to_every_ledger_entry_and_coupon(admin_client, order):
    page = admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()

    assert "¥1,600.00" in page and "¥20.00" in page and "¥1,000.00" in page
    assert f"/admin/points/pointsentry/{order.points_spend_entry_id}/change/" in page
    assert f"/admin/points/pointsentry/{order.points_earn_entry_id}/change/" in page
    assert f"/admin/stored_value/storedvalueentry/{order.stored_value_entry_id}/change/" in page
    refund = order.refunds.get()
    assert f"/admin/stored_value/storedvalueentry/{refund.stored_value_entry_id}/change/" in page
    assert f"/admin/coupons/coupon/{order.coupon_ids[0]}/change/" in page
    assert "R-1" in page and "BUNDLE" in page


def test_an_order_page_reads_its_history_and_benefits_in_chinese_and_shows_no_hash(admin_client, order):
    card = CardTypeFactory(name="千元消费卡")
    day = MemberDay.objects.create(name="周三会员日", recurrence="weekly", weekday=3, points_multiplier=2)
    tier = Tier.objects.order_by("level").first()
    sources = {"discount": f"card:{card.pk} + member_day:{day.pk}", "points_multiplier": f"tier:{tier.level}"}
    Order.objects.filter(pk=order.pk).update(benefit_sources=sources)

    response = admin_client.get(f"/admin/orders/order/{order.pk}/change/")
    page, text = response.content.decode(), page_text(response)

    assert order.quote_hash and order.quote_hash not in page and order.request_hash not in page
    assert "会员卡「千元消费卡」 + 会员日「周三会员日」" in text and f"等级「{tier.name}」" in text
    assert "discount" not in text and "{" not in text  # 优惠来源 is a table, not JSON
    # The history: events and statuses by their labels (下单 → 已提交（待支付）, 已完成, 已退款), never the codes.
    assert "下单" in text and "已提交（待支付）" in text and "已退款" in text
    for code in ("commit", "complete", "refund", "spend", "earn"):
        assert code not in text
    assert "退款 R-1 退回" in text  # the links to the ledger entries say what each is


def test_the_order_list_shows_amounts_in_yuan_and_exports_csv(admin_client, order):
    page = admin_client.get("/admin/orders/order/").content.decode()
    name, rows = csv_download(admin_client.get("/admin/orders/order/export/"))

    assert "ADM-1" in page and "¥1,600.00" in page
    assert name == f"订单_{timezone.localdate()}.csv"
    assert_reads_as_the_admin(rows, "refunded", "completed")
    row = rows[0]
    assert row["订单号"] == "ADM-1" and row["状态"] == "已退款"
    assert row["会员ID"] == str(order.member_id) and row["会员"] == str(order.member)
    assert (
        row["商品金额（元）"] == "1600.00"
        and row["储值支付（元）"] == "1000.00"
        and row["使用积分"] == "1000"
    )
    assert order.request_hash not in str(rows)


def test_the_order_export_names_a_closed_account_as_the_admin_does(admin_client, order):
    Member.objects.filter(pk=order.member_id).update(closed_at=timezone.now(), nickname="", phone="")

    _name, rows = csv_download(admin_client.get("/admin/orders/order/export/"))

    assert rows[0]["会员ID"] == str(order.member_id) and rows[0]["会员"] == f"已注销会员 #{order.member_id}"


def test_the_order_export_is_english_for_an_operator_who_reads_english(admin_client, order):
    admin_client.cookies["django_language"] = "en"

    name, rows = csv_download(admin_client.get("/admin/orders/order/export/"))

    assert name.startswith("orders_") and rows[0]["status"] == "refunded"  # the label, English
    assert rows[0]["goods (yuan)"] == "1600.00" and rows[0]["member ID"] == str(order.member_id)


def test_orders_cannot_be_added_edited_or_deleted_in_the_admin(admin_client, order):
    assert admin_client.get("/admin/orders/order/add/").status_code == 403
    assert admin_client.post(f"/admin/orders/order/{order.pk}/delete/").status_code == 403


def test_checkout_settings_are_edited_in_the_admin(admin_client):
    from orders.quote import checkout_settings

    checkout_settings()
    response = admin_client.post(
        "/admin/orders/checkoutsettings/1/change/",
        {
            "points_deduction_enabled": "on",
            "points_per_yuan": 200,
            "max_share_bp": "30%",  # typed as a percentage, stored in basis points
            "min_points": 100,
            "commit_timeout_minutes": 15,
            "counter_confirm_above_fen": "300.00",  # typed in 元
        },
    )

    assert response.status_code == 302
    settings = checkout_settings()
    assert settings.counter_confirm_above_fen == 30_000
    assert (settings.points_per_yuan, settings.combine_with_coupons, settings.commit_timeout_minutes) == (
        200,
        False,
        15,
    )
    assert settings.max_share_bp == 3000
    page = page_text(admin_client.get("/admin/orders/checkoutsettings/"))
    assert "30%" in page and "3000" not in page and "基点" not in page
    assert "¥300.00" in page


def test_a_share_beyond_100_percent_or_finer_than_a_basis_point_is_refused(admin_client):
    from orders.quote import checkout_settings

    checkout_settings()
    for typed in ("101", "12.345", "半"):
        response = admin_client.post(
            "/admin/orders/checkoutsettings/1/change/",
            {"points_per_yuan": 100, "max_share_bp": typed, "min_points": 0, "commit_timeout_minutes": 15},
        )
        assert response.status_code == 200 and "max_share_bp" in response.context["adminform"].form.errors
    assert checkout_settings().max_share_bp == 5000
