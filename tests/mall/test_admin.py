"""The mall back office: item counters and stock, code import, ship one or from a file, cancel, CSV."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from mall import services
from mall.models import MallItem, Redemption, VirtualCode
from tests.factories import EarnedPointsFactory, MallItemFactory
from tests.helpers import assert_reads_as_the_admin, csv_download, page_text, points_of
from tests.mall.helpers import address, redeem
from tests.points.test_admin import staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def rich(member):
    EarnedPointsFactory(member=member, amount=100_000)
    return member


def test_the_item_list_shows_price_stock_and_redemption_counters(admin_client, rich):
    cup = MallItemFactory(name="保温杯", points=500, cash_fen=990, stock=5)
    home = address(rich)
    redeem(rich, cup, key="1", address_id=home.pk)

    page = admin_client.get("/admin/mall/mallitem/").content.decode()

    assert "保温杯" in page and "500 积分 + ¥9.90" in page


def test_saving_an_item_changes_stock_by_the_difference_asked_for_never_by_writing_it_back(
    admin_client, rich
):
    cup = MallItemFactory(stock=5)
    form = admin_client.get(f"/admin/mall/mallitem/{cup.pk}/change/")
    assert form.status_code == 200
    redeem(rich, cup, address_id=address(rich).pk)  # meanwhile, a member redeems one

    data = {
        "name": "保温杯 新款",
        "kind": "physical",
        "is_active": "on",
        "sort_order": 0,
        "points": 500,
        "cash_fen": "9.90",  # typed in yuan
        "period": "",
        "min_tier_level": 0,
        "extra_images": "",  # one address per line; no card types ticked: none required
        "stock_change": 10,
    }
    response = admin_client.post(f"/admin/mall/mallitem/{cup.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    cup.refresh_from_db()
    assert (cup.name, cup.stock, cup.sold_count, cup.cash_fen) == ("保温杯 新款", 14, 1, 990)
    too_many = admin_client.post(f"/admin/mall/mallitem/{cup.pk}/change/", {**data, "stock_change": -15})
    assert too_many.status_code == 200
    cup.refresh_from_db()
    assert cup.stock == 14


def test_importing_codes_from_a_file_adds_stock_and_the_code_list_masks_them(admin_client):
    card = MallItemFactory(name="视频月卡", kind="virtual_code", stock=0)
    upload = SimpleUploadedFile("codes.csv", b"SECRET-AAAA-0001\nSECRET-AAAA-0002\n\nSECRET-AAAA-0001\n")

    response = admin_client.post(f"/admin/mall/mallitem/{card.pk}/import-codes/", {"codes_file": upload})

    assert response.status_code == 302
    card.refresh_from_db()
    assert card.stock == 2 and VirtualCode.objects.count() == 2
    page = admin_client.get("/admin/mall/virtualcode/").content.decode()
    assert "SECRET-AAAA-0001" not in page and "SE************01" in page


def test_shipping_needs_the_permission_and_marks_shipped(client, rich):
    r = redeem(rich, MallItemFactory(), address_id=address(rich).pk)
    url = f"/admin/mall/redemption/{r.pk}/ship/"

    staff(client, "clerk", "mall.view_redemption")
    assert client.post(url, {"carrier": "顺丰速运", "tracking_no": "SF1"}).status_code == 403
    staff(client, "ops", "mall.view_redemption", "mall.ship_redemption")
    assert client.post(url, {"carrier": "顺丰速运", "tracking_no": "SF1"}).status_code == 302

    r.refresh_from_db()
    assert (r.status, r.carrier, r.tracking_no) == ("shipped", "顺丰速运", "SF1")


def test_the_carrier_is_chosen_from_the_common_ones_or_typed_under_other(client, rich):
    r = redeem(rich, MallItemFactory(), address_id=address(rich).pk)
    url = f"/admin/mall/redemption/{r.pk}/ship/"
    staff(client, "ops", "mall.view_redemption", "mall.ship_redemption")

    page = client.get(url).content.decode()
    for carrier in (
        "顺丰速运",
        "中通快递",
        "圆通速递",
        "韵达快递",
        "申通快递",
        "京东物流",
        "中国邮政EMS",
        "极兔速递",
    ):
        assert f'<option value="{carrier}">{carrier}</option>' in page
    assert '<option value="其他">其他</option>' in page
    assert client.post(url, {"carrier": "顺丰", "tracking_no": "SF1"}).status_code == 200  # not in the list
    assert client.post(url, {"carrier": "其他", "tracking_no": "X1"}).status_code == 200  # no name typed
    assert (
        client.post(url, {"carrier": "其他", "other_carrier": "安能物流", "tracking_no": "AN1"}).status_code
        == 302
    )

    r.refresh_from_db()
    assert (r.status, r.carrier, r.tracking_no) == ("shipped", "安能物流", "AN1")
    again = client.get(url).content.decode()
    assert '<option value="其他" selected>其他</option>' in again and 'value="安能物流"' in again


def test_bulk_ship_from_a_csv_reports_every_row(client, rich):
    home = address(rich)
    first = redeem(rich, MallItemFactory(), key="1", address_id=home.pk)
    second = redeem(rich, MallItemFactory(), key="2", address_id=home.pk)
    staff(client, "ops", "mall.view_redemption", "mall.ship_redemption")
    text = f"兑换单号,快递公司,快递单号\n{first.no},顺丰,SF100\n{second.no},中通,ZT200\nM000,顺丰,SF1\n"
    upload = SimpleUploadedFile("ship.csv", text.encode("gb18030"))

    response = client.post("/admin/mall/redemption/ship-file/", {"tracking_file": upload})

    page = response.content.decode()
    assert response.status_code == 200 and page.count('class="shipped"') == 2 and 'class="not_found"' in page
    assert set(Redemption.objects.values_list("status", flat=True)) == {"shipped"}
    # the names operators type are recorded as the listed carriers
    assert set(Redemption.objects.values_list("carrier", flat=True)) == {"顺丰速运", "中通快递"}


def test_the_ship_file_keeps_a_carrier_name_it_does_not_list(client, rich):
    r = redeem(rich, MallItemFactory(), address_id=address(rich).pk)
    staff(client, "ops", "mall.view_redemption", "mall.ship_redemption")
    upload = SimpleUploadedFile("ship.csv", f"{r.no},安能物流,AN9\n".encode())

    client.post("/admin/mall/redemption/ship-file/", {"tracking_file": upload})

    r.refresh_from_db()
    assert (r.status, r.carrier) == ("shipped", "安能物流")


def test_an_operator_cancel_gives_points_and_stock_back(client, rich):
    cup = MallItemFactory(stock=3)
    r = redeem(rich, cup, address_id=address(rich).pk)
    staff(client, "ops", "mall.view_redemption", "mall.ship_redemption")

    response = client.post(
        f"/admin/mall/redemption/{r.pk}/cancel/", {"reason": "缺货", "idempotency_key": "x"}
    )

    assert response.status_code == 302
    r.refresh_from_db()
    assert r.status == "cancelled" and points_of(rich) == 100_000
    assert MallItem.objects.get(pk=cup.pk).stock == 3


def test_redemptions_export_as_csv_with_the_filters(admin_client, rich):
    home = address(rich)
    kept = redeem(rich, MallItemFactory(name="保温杯", points=500), key="1", address_id=home.pk)
    gone = redeem(rich, MallItemFactory(), key="2", address_id=home.pk)
    services.redemption_cancel(redemption_id=gone.pk, reason="x")

    name, rows = csv_download(admin_client.get("/admin/mall/redemption/export/?status__exact=paid"))

    assert name == f"兑换单_{timezone.localdate()}.csv"
    assert list(rows[0])[:5] == ["兑换单号", "快递公司", "快递单号", "会员ID", "会员"]
    assert_reads_as_the_admin(rows, "paid", "physical")
    assert [(r["兑换单号"], r["商品"]) for r in rows] == [(kept.no, "保温杯")]
    row = rows[0]
    assert (row["类型"], row["状态"]) == ("实物（需发货）", "已支付，待发货")
    assert (row["积分"], row["现金（元）"], row["会员"]) == ("500", "0.00", str(rich))
    redeem(rich, MallItemFactory(cash_fen=1_234_590), key="3", address_id=home.pk)  # points + cash
    _name, owing = csv_download(
        admin_client.get("/admin/mall/redemption/export/?status__exact=pending_payment")
    )
    assert [(r["状态"], r["现金（元）"]) for r in owing] == [("待支付", "12345.90")]
    assert (
        admin_client.get("/admin/mall/redemption/?status__exact=paid&kind__exact=physical").status_code == 200
    )


def test_the_export_of_the_queue_filled_in_is_a_ship_file(client, rich):
    """The first three columns are what the ship file reads; the Chinese header line is skipped."""
    home = address(rich)
    first = redeem(rich, MallItemFactory(), key="1", address_id=home.pk)
    second = redeem(rich, MallItemFactory(), key="2", address_id=home.pk)
    staff(client, "ops", "mall.view_redemption", "mall.ship_redemption")
    response = client.get("/admin/mall/redemption/export/?status__exact=paid")
    _name, rows = csv_download(response)
    carriers = {first.no: ("顺丰", "SF100"), second.no: ("中通", "ZT200")}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(rows[0].keys())
    for row in rows:
        row["快递公司"], row["快递单号"] = carriers[row["兑换单号"]]
        writer.writerow(row.values())
    upload = SimpleUploadedFile("待发货.csv", ("\ufeff" + out.getvalue()).encode())

    page = client.post("/admin/mall/redemption/ship-file/", {"tracking_file": upload}).content.decode()

    assert page.count('class="shipped"') == 2
    shipped = dict(Redemption.objects.values_list("no", "tracking_no"))
    assert shipped == {first.no: "SF100", second.no: "ZT200"}
    assert set(Redemption.objects.values_list("carrier", flat=True)) == {"顺丰速运", "中通快递"}


def test_a_redemption_page_reads_its_history_in_chinese(admin_client, admin_user, rich):
    cup = MallItemFactory(name="保温杯", points=500, stock=5)
    r = redeem(rich, cup, address_id=address(rich).pk)
    services.redemption_ship(redemption_id=r.pk, carrier="顺丰", tracking_no="SF1", actor_id=admin_user.pk)
    services.redemption_confirm_receipt(redemption_id=r.pk, member_id=rich.pk)

    text = page_text(admin_client.get(f"/admin/mall/redemption/{r.pk}/change/"))

    assert "已支付" in text and "已发货" in text and "会员确认收货" in text
    for code in ("paid", "shipped", "completed", "member"):
        assert code not in text


def test_a_redemption_page_carries_its_actions_as_buttons(admin_client, admin_user, rich):
    r = redeem(rich, MallItemFactory(), address_id=address(rich).pk)

    page = admin_client.get(f"/admin/mall/redemption/{r.pk}/change/").content.decode()

    assert f'href="/admin/mall/redemption/{r.pk}/ship/"' in page
    assert f'href="/admin/mall/redemption/{r.pk}/cancel/"' in page
    services.redemption_ship(
        redemption_id=r.pk, carrier="顺丰速运", tracking_no="SF1", actor_id=admin_user.pk
    )
    shipped = admin_client.get(f"/admin/mall/redemption/{r.pk}/change/").content.decode()
    assert f'href="/admin/mall/redemption/{r.pk}/cancel/"' not in shipped  # only what can be done now


# --- forms, not JSON: the item's kind, card types and tier by name, images one per line -------------


def _item_form(**fields):
    return {
        "name": "保温杯",
        "kind": "physical",
        "is_active": "on",
        "sort_order": "0",
        "points": "500",
        "cash_fen": "0",
        "period": "",
        "min_tier_level": "0",
        "extra_images": "",
        **fields,
    }


def test_card_types_are_ticked_and_images_typed_one_per_line_stored_as_the_lists_they_were(admin_client):
    from tests.factories import CardTypeFactory
    from tests.membership.helpers import standard_tiers

    standard_tiers()
    vip, plus = CardTypeFactory(name="VIP"), CardTypeFactory(name="PLUS")

    response = admin_client.post(
        "/admin/mall/mallitem/add/",
        _item_form(
            required_card_type_ids=[plus.pk, vip.pk],
            min_tier_level="2",
            extra_images="https://img.example.com/a.jpg\r\n\r\nhttps://img.example.com/b.jpg ",
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    item = MallItem.objects.get()
    assert sorted(item.required_card_type_ids) == sorted([vip.pk, plus.pk])
    assert item.min_tier_level == 2
    assert item.extra_images == ["https://img.example.com/a.jpg", "https://img.example.com/b.jpg"]
    page = admin_client.get(f"/admin/mall/mallitem/{item.pk}/change/").content.decode()
    assert f'name="required_card_type_ids" value="{vip.pk}"' in page and ">L2<" in page
    assert "https://img.example.com/a.jpg\nhttps://img.example.com/b.jpg</textarea>" in page


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"coupon_template": "1"}, "coupon_template", "不适用于「实物（需发货）」"),
        ({"kind": "coupon"}, "coupon_template", "优惠券商品需要选择优惠券模板"),
        ({"period": "", "per_period_limit": "2"}, "per_period_limit", "不适用于「不按周期限购」"),
        ({"extra_images": "not-a-url"}, "extra_images", "https://"),
        ({"kind": "virtual_code", "stock_change": "5"}, "stock_change", "不适用于「虚拟卡密」"),
    ],
)
def test_an_item_that_does_not_add_up_is_explained_in_chinese(admin_client, fields, field, message):
    from tests.factories import CouponTemplateFactory

    CouponTemplateFactory(pk=1)
    response = admin_client.post("/admin/mall/mallitem/add/", _item_form(**fields))

    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors[field])
    assert not MallItem.objects.exists()
