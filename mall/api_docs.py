"""The documentation of the points-mall API (catalogue, redeem, redemptions, addresses)."""

from loyalty.api import docs
from loyalty.api.docs import request_example, response_example
from mall.exceptions import (
    AddressNotFound,
    AddressRequired,
    ItemNotFound,
    NotOnSale,
    NotUnlocked,
    ReceiptNotConfirmable,
    RedemptionLimitReached,
    RedemptionNotCancellable,
    RedemptionNotFound,
    SoldOut,
)
from payments.api_docs import PAY_AFTERWARDS, PAYMENT_PARAMS
from payments.exceptions import PaymentUnavailable
from points.exceptions import InsufficientPoints

_ITEM = {
    "id": 2,
    "name": "蓝牙耳机（积分+现金）",
    "kind": "physical",
    "category_id": 2,
    "image_url": "https://cdn.example.com/mall/earbuds.jpg",
    "points": 1000,
    "cash_fen": 9900,
    "stock": 19,
    "on_sale_until": "2026-12-31T23:59:59+08:00",
    "unlocked": True,
    "affordable": True,
}
ADDRESS = {
    "id": 9,
    "recipient": "王芳",
    "phone": "13812345678",
    "province": "浙江省",
    "city": "杭州市",
    "district": "西湖区",
    "detail": "文三路 398 号 2 单元 502",
    "postal_code": "310012",
    "is_default": True,
}
_ADDRESS_INPUT = {key: value for key, value in ADDRESS.items() if key != "id"}
_REDEMPTION = {
    "id": 43,
    "no": "M20261205103012B110F61D",
    "item_id": 2,
    "item_name": "蓝牙耳机（积分+现金）",
    "kind": "physical",
    "points": 1000,
    "cash_fen": 9900,
    "status": "shipped",
    "out_trade_no": "P20261205103012A7C4E19B25D0",
    "coupon_id": None,
    "code": None,
    "recipient": "王芳",
    "phone": "13812345678",
    "address": "王芳 13812345678 浙江省杭州市西湖区文三路 398 号 2 单元 502",
    "carrier": "顺丰速运",
    "tracking_no": "SF1428765093216",
    "created_at": "2026-12-05T10:30:12+08:00",
    "paid_at": "2026-12-05T10:30:40+08:00",
    "fulfilled_at": None,
    "shipped_at": "2026-12-06T16:05:00+08:00",
    "completed_at": None,
    "cancelled_at": None,
    "cancel_reason": "",
}
_VIRTUAL = {
    **_REDEMPTION,
    "id": 42,
    "no": "M202612050808085AE61EA8",
    "item_id": 4,
    "item_name": "视频会员月卡",
    "kind": "virtual_code",
    "points": 1500,
    "cash_fen": 0,
    "status": "fulfilled",
    "out_trade_no": "",
    "code": "VIP-8F1D5843-004",
    "recipient": "",
    "phone": "",
    "address": "",
    "carrier": "",
    "tracking_no": "",
    "paid_at": "2026-12-05T10:28:08+08:00",
    "created_at": "2026-12-05T10:28:08+08:00",
    "fulfilled_at": "2026-12-05T10:28:08+08:00",
    "shipped_at": None,
}
_STATUSES = """
兑换单 `status`：`pending_payment` 待支付（积分+现金）、`paid` 已支付待发货（实物）、`fulfilled` 已发放（优惠券、
虚拟卡密）、`shipped` 已发货（`carrier` 快递公司、`tracking_no` 运单号）、`completed` 已完成（已确认收货，或发货后
到期自动完成）、`cancelled` 已取消（`cancel_reason`）。
"""

categories = docs.operation(
    tag=docs.MALL,
    summary="商城分类",
    description="积分商城的商品分类，按展示顺序。",
    examples=[response_example({"id": 1, "name": "家居好物"})],
)

items = docs.operation(
    tag=docs.MALL,
    summary="商品列表",
    description="""
正在上架的商品，可按分类 `category` 过滤，`affordable=true` 只看我的积分够兑换的，`unlocked=true` 只看我的等级与会员卡
已解锁的。`kind`：`physical` 实物（需收货地址，发货）、`pickup` 实物到店自提（兑换后得到提货码 `pickup_code`，到店出示，店员核销）、`coupon` 优惠券、`virtual_code` 虚拟卡密。
`points` 为所需积分，`cash_fen` 大于 0 表示“积分+现金”需另付现金；`unlocked` 为我是否满足兑换门槛，
`affordable` 为我的可用积分是否足够。
""",
    money=True,
    examples=[response_example(_ITEM)],
)

item_detail = docs.operation(
    tag=docs.MALL,
    summary="商品详情",
    description="""
一个商品的详情：描述与图片、限购（`per_member_limit` 每人限兑，`period` + `per_period_limit` 每天 / 周 / 月限兑）、
兑换门槛（`min_tier_level` 最低等级、`required_card_type_ids` 需持有的会员卡之一）、上架时间；优惠券商品的
`coupon` 为券的面额文案。下架或不存在的商品返回 404 `item_not_found`。
""",
    money=True,
    errors=[ItemNotFound],
    examples=[
        response_example(
            {
                **_ITEM,
                "description": "入耳式降噪，续航 24 小时，一年保修。",
                "extra_images": ["https://cdn.example.com/mall/earbuds-2.jpg"],
                "per_member_limit": 1,
                "period": "",
                "per_period_limit": None,
                "min_tier_level": 1,
                "required_card_type_ids": [],
                "on_sale_from": "2026-12-01T00:00:00+08:00",
                "coupon": None,
            }
        )
    ],
)

redemptions = docs.operation(
    tag=docs.MALL,
    summary="我的兑换记录",
    description=f"""
我的兑换单，新的在前，游标分页；可按 `status` 过滤。列表里虚拟卡密 `code` 是打码的，完整卡密看详情。
{_STATUSES}""",
    money=True,
    examples=[response_example(_REDEMPTION)],
)

redeem = docs.operation(
    tag=docs.MALL,
    summary="兑换商品",
    description=f"""
用积分兑换一个商品（实物须传收货地址 `address_id`，否则 400 `address_required`）。积分立即扣除、库存立即占用，
返回兑换单（201）：

- 纯积分：优惠券与虚拟卡密立即发放（`fulfilled`，详情里有完整卡密），实物为 `paid` 待发货，`payment` 为 null；
- 积分+现金（`cash_fen` > 0）：兑换单为 `pending_payment`，`payment` 为支付参数，付款后才发放或发货；超时未付自动取消，
  积分与库存退回。
{PAY_AFTERWARDS}
拒绝的情况不扣积分：不在上架时间（409 `not_on_sale`）、等级或会员卡未解锁（403 `not_unlocked`）、库存不足
（409 `sold_out`）、超过限兑（409 `redemption_limit_reached`）、积分不足（409 `insufficient_points`）。
""",
    idempotency_key=True,
    money=True,
    errors=[
        ItemNotFound,
        NotOnSale,
        NotUnlocked,
        SoldOut,
        RedemptionLimitReached,
        InsufficientPoints,
        AddressRequired,
        AddressNotFound,
        PaymentUnavailable,
    ],
    examples=[
        request_example({"item_id": 2, "address_id": 9}, name="积分+现金兑换实物"),
        request_example({"item_id": 4}, name="纯积分兑换虚拟卡密"),
        response_example(
            {
                "redemption": {
                    **_REDEMPTION,
                    "status": "pending_payment",
                    "carrier": "",
                    "tracking_no": "",
                    "paid_at": None,
                    "shipped_at": None,
                },
                "payment": PAYMENT_PARAMS,
            },
            name="积分+现金：待支付",
            status=201,
        ),
        response_example({"redemption": _VIRTUAL, "payment": None}, name="纯积分：已发放", status=201),
    ],
)

redemption_detail = docs.operation(
    tag=docs.MALL,
    summary="兑换单详情",
    description=f"""
我的一张兑换单；虚拟卡密商品在发放后给出完整卡密 `code`。不是我的兑换单返回 404 `redemption_not_found`。
{_STATUSES}""",
    money=True,
    errors=[RedemptionNotFound],
    examples=[response_example(_VIRTUAL)],
)

confirm_receipt = docs.operation(
    tag=docs.MALL,
    summary="确认收货",
    description="""
实物兑换已发货（`shipped`）后确认收货，兑换单变为 `completed` 并返回。无请求体；重复确认不改变什么。
未发货时返回 409 `not_confirmable`（`details.status` 为当前状态）。发货后一段时间未确认会自动完成。
""",
    money=True,
    errors=[RedemptionNotFound, ReceiptNotConfirmable],
    examples=[
        response_example({**_REDEMPTION, "status": "completed", "completed_at": "2026-12-08T09:15:00+08:00"})
    ],
)

cancel = docs.operation(
    tag=docs.MALL,
    summary="取消兑换",
    description="""
发货前取消：待支付的兑换单，或已支付、未发货的实物兑换单。积分退回原批次、已付现金原路退款、库存与卡密释放；
返回已取消的兑换单。无请求体；重复取消返回同一张已取消的单。已发货、已发放或已完成的返回 409 `not_cancellable`。
""",
    idempotency_key=True,
    money=True,
    errors=[RedemptionNotFound, RedemptionNotCancellable],
    examples=[
        response_example(
            {
                **_REDEMPTION,
                "status": "cancelled",
                "carrier": "",
                "tracking_no": "",
                "shipped_at": None,
                "cancelled_at": "2026-12-05T11:02:31+08:00",
                "cancel_reason": "member",
            }
        )
    ],
)

addresses = docs.operation(
    tag=docs.MALL,
    summary="我的收货地址",
    description="我的收货地址，默认地址在前。",
    examples=[response_example(ADDRESS)],
)

address_create = docs.operation(
    tag=docs.MALL,
    summary="新增收货地址",
    description="""
新增一个收货地址并返回（201）。第一个地址自动成为默认地址；`is_default` 为 true 时把默认地址改为它。
每人最多 20 个地址，超出返回 400 `validation_error`。
""",
    errors=[(400, "validation_error", "地址已达 20 个上限，或字段不合法")],
    examples=[request_example(_ADDRESS_INPUT), response_example(ADDRESS, status=201)],
)

address_detail = docs.operation(
    tag=docs.MALL,
    summary="收货地址详情",
    description="我的一个收货地址。不是我的地址返回 404 `address_not_found`。",
    errors=[AddressNotFound],
    examples=[response_example(ADDRESS)],
)

address_update = docs.operation(
    tag=docs.MALL,
    summary="修改收货地址",
    description="只传要改的字段，返回修改后的地址。`is_default` 设为 true 即设为默认地址。",
    errors=[AddressNotFound],
    examples=[
        request_example({"detail": "文三路 398 号 2 单元 502", "is_default": True}),
        response_example(ADDRESS),
    ],
)

address_delete = docs.operation(
    tag=docs.MALL,
    summary="删除收货地址",
    description="""
删除我的一个收货地址（已下的兑换单保留各自的地址副本）；删掉默认地址时，最新的另一个地址成为默认。
无请求体；成功返回 204，无响应体。
""",
    errors=[AddressNotFound],
    examples=[],
)
