"""The documentation of the coupons API (claim centre, claim, my coupons, detail, counter redemption)."""

from coupons.exceptions import (
    ClaimWindowClosed,
    CouponLimitReached,
    CouponNotAvailable,
    CouponNotFound,
    CouponSoldOut,
    CouponTemplateNotFound,
    NotInAudience,
)
from loyalty.api import docs
from loyalty.api.docs import request_example, response_example

TEMPLATE = {
    "id": 1,
    "name": "满100减20",
    "description": "全场通用，不含特价商品",
    "face": "满¥100.00减¥20.00",
    "kind": "amount_off",
    "threshold_fen": 10000,
    "amount_off_fen": 2000,
    "percent_off": 0,
    "max_discount_fen": None,
    "gift_sku": "",
    "validity": "relative",
    "valid_from": None,
    "valid_until": None,
    "valid_days": 7,
    "scope": "all",
    "scope_values": [],
    "scope_exclude": False,
    "stacking": "normal",
}
COUPON = {
    "id": 1107,
    "code": "74SYUX6EL45C",
    "status": "available",
    "template": TEMPLATE,
    "valid_from": "2026-12-05T10:30:00+08:00",
    "valid_until": "2026-12-12T10:30:00+08:00",
    "issued_at": "2026-12-05T10:30:00+08:00",
    "used_at": None,
}
_TEMPLATE_FIELDS = """
券模板字段：`kind` 券种（`amount_off` 满减、`percent_off` 折扣、`no_threshold` 无门槛、`free_shipping` 包邮、
`exchange` 兑换券）；`face` 为可直接展示的面额文案；`threshold_fen` 使用门槛、`amount_off_fen` 减免金额；
`percent_off` 为减免的百分比（12 即 8.8 折），`max_discount_fen` 为折扣券最多减免；`validity` 为 `fixed`
（`valid_from`–`valid_until` 固定日期）或 `relative`（领取后 `valid_days` 天内有效）；`scope` 适用范围
（`all` 全部、`categories` 指定品类、`skus` 指定商品，见 `scope_values`，`scope_exclude` 为 true 时表示“除外”）；
`stacking` 为 `normal`（每单限用一张，包邮券可叠加）或 `exclusive`（不与其他券同用）。
"""

claim_centre = docs.operation(
    tag=docs.COUPONS,
    summary="领券中心",
    description=f"""
我现在可以领取的券（在领取时间内、我在目标人群中），按模板展示。`remaining_stock` 为剩余库存，
`my_remaining` 为我还能领几张（为 0 时按钮显示“已领取”）。
{_TEMPLATE_FIELDS}""",
    money=True,
    examples=[response_example({"template": TEMPLATE, "remaining_stock": 840, "my_remaining": 1})],
)

claim = docs.operation(
    tag=docs.COUPONS,
    summary="领取优惠券",
    description="""
从领券中心领取一张券，返回领到的券（201）。拒绝的情况不发券：模板不存在（404 `coupon_template_not_found`）、
不在领取时间内或已停用（409 `claim_window_closed`）、我不在目标人群（403 `not_in_audience`）、已领完
（409 `coupon_sold_out`）、已达每人限领张数（409 `coupon_limit_reached`）。
""",
    idempotency_key=True,
    throttle_scope="coupon_claim",
    money=True,
    errors=[CouponTemplateNotFound, ClaimWindowClosed, NotInAudience, CouponSoldOut, CouponLimitReached],
    examples=[request_example({"template_id": 1}), response_example(COUPON, status=201)],
)

my_coupons = docs.operation(
    tag=docs.COUPONS,
    summary="我的优惠券",
    description="""
我的券，新的在前，游标分页；可按 `status` 过滤：`available` 可使用、`locked` 下单中（已被未支付订单占用）、
`used` 已使用、`expired` 已过期、`voided` 已作废。`valid_from`–`valid_until` 为这张券的有效期。
""",
    money=True,
    examples=[response_example(COUPON)],
)

coupon_detail = docs.operation(
    tag=docs.COUPONS,
    summary="优惠券详情（含核销二维码）",
    description="""
我的一张券，附核销二维码 `qr_png`（PNG 图片的 data URL，可直接作为 `<image src>`）：到店时出示给收银员扫码，
或报出券码 `code`。不是我的券返回 404 `coupon_not_found`。
""",
    money=True,
    errors=[CouponNotFound],
    examples=[
        response_example(
            {
                **COUPON,
                "qr_png": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAMgAAADIAQAAAACFI5MzAAAA...",
            }
        )
    ],
)

server_redeem = docs.operation(
    tag=docs.SERVER,
    summary="收银台核销优惠券",
    description="""
门店收银台扫会员的券二维码（或输入券码），为一笔订单立即核销：券状态变为 `used`，记录 `order_no`。
券码不区分大小写。同一张券用同一个 `order_no` 重复核销返回同样的结果；已使用、被其他订单占用、已过期或已作废的券
返回 409 `coupon_not_available`（`details.status` 为券的当前状态）；券码不存在返回 404 `coupon_not_found`。
线上订单的用券不走本接口，而是在下单（`POST /api/v1/server/orders`）时锁定、完成时使用。
""",
    caller=docs.SERVER_CALLER,
    idempotency="以券码 + `order_no` 幂等：同一张券以同一个 `order_no` 重复核销，返回 200 与同样的结果。",
    money=True,
    errors=[CouponNotFound, CouponNotAvailable],
    examples=[
        request_example({"code": "74SYUX6EL45C", "order_no": "POS-20261205-0031"}),
        response_example({**COUPON, "status": "used", "used_at": "2026-12-05T15:12:40+08:00"}),
    ],
)
