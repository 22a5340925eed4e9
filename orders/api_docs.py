"""The documentation of the checkout API: the member's quote and orders, and the order system's signed calls."""

from coupons.exceptions import CouponNotAvailable
from loyalty.api import docs
from loyalty.api.docs import request_example, response_example
from members.exceptions import MemberClosed, MemberCodeExpired, MemberCodeInvalid, MemberCodeUsed
from orders import exceptions as exc
from points.exceptions import InsufficientPoints
from stored_value.exceptions import AccountFrozen, InsufficientBalance
from stores.exceptions import StaffNotFound, StaffNotInStore, StoreClosed, StoreNotFound

# One basket through its whole life, as the demo prices it: a silver member (2% off),
# a 满300减60 coupon, ¥100.00 of stored value, the rest in cash.
_BASKET = {
    "lines": [
        {
            "sku": "TEA-002",
            "name": "明前龙井 250g",
            "category": "tea",
            "unit_price_fen": 29900,
            "quantity": 1,
        },
        {"sku": "CUP-01", "name": "白瓷盖碗", "category": "teaware", "unit_price_fen": 8800, "quantity": 2},
    ],
    "shipping_fen": 1000,
    "points": 0,
    "stored_value_fen": 10000,
}
_FINGERPRINT = "ffa2969bb33ce13321a6f9e842169e395a7169179b616f452abc1444ee63cc3a"
_QUOTE_LINES = [
    {
        "line_no": 1,
        "sku": "TEA-002",
        "category": "tea",
        "name": "明前龙井 250g",
        "unit_price_fen": 29900,
        "quantity": 1,
        "amount_fen": 29900,
        "benefit_discount_fen": 598,
        "coupon_discount_fen": 3777,
        "points": 0,
        "points_fen": 0,
        "stored_value_fen": 6143,
        "cash_fen": 19382,
    },
    {
        "line_no": 2,
        "sku": "CUP-01",
        "category": "teaware",
        "name": "白瓷盖碗",
        "unit_price_fen": 8800,
        "quantity": 2,
        "amount_fen": 17600,
        "benefit_discount_fen": 352,
        "coupon_discount_fen": 2223,
        "points": 0,
        "points_fen": 0,
        "stored_value_fen": 3616,
        "cash_fen": 11409,
    },
]
_QUOTE = {
    "member_id": 1024,
    "lines": _QUOTE_LINES,
    "goods_fen": 47500,
    "shipping_fen": 1000,
    "benefit_discount_bp": 200,
    "benefit_discount_fen": 950,
    "benefit_sources": {"discount": "tier:1"},
    "points_multiplier": "6/5",
    "coupon_ids": [113],
    "coupon_discount_fen": 6000,
    "shipping_discount_fen": 0,
    "points": 0,
    "points_fen": 0,
    "stored_value_fen": 10000,
    "shipping_stored_value_fen": 241,
    "shipping_cash_fen": 759,
    "cash_fen": 31550,
    "points_estimate": 486,
    "points_balance": 1280,
    "points_max": 1280,
    "stored_value_balance_fen": 33500,
    "coupon_evaluations": [
        {"coupon_id": 113, "applicable": True, "reason": None, "discount_fen": 6000, "shortfall_fen": 0},
        {"coupon_id": 112, "applicable": True, "reason": None, "discount_fen": 2000, "shortfall_fen": 0},
        {
            "coupon_id": 120,
            "applicable": False,
            "reason": "threshold_not_met",
            "discount_fen": 0,
            "shortfall_fen": 2500,
        },
    ],
    "fingerprint": _FINGERPRINT,
}
_ORDER_LINES = [{**line, "refunded_quantity": 0} for line in _QUOTE_LINES]
_ORDER = {
    "order_no": "SO20261205A17",
    "member_id": 1024,
    "status": "committed",
    "goods_fen": 47500,
    "shipping_fen": 1000,
    "benefit_discount_fen": 950,
    "coupon_discount_fen": 6000,
    "shipping_discount_fen": 0,
    "points_used": 0,
    "points_fen": 0,
    "stored_value_fen": 10000,
    "cash_fen": 31550,
    "coupon_ids": [113],
    "earned_points": 0,
    "refunded_stored_value_fen": 0,
    "refunded_cash_fen": 0,
    "refunded_points": 0,
    "committed_at": "2026-12-05T10:31:50+08:00",
    "expires_at": "2026-12-05T11:01:50+08:00",
    "completed_at": None,
    "cancelled_at": None,
    "lines": _ORDER_LINES,
}
_COMPLETED = {
    **_ORDER,
    "status": "completed",
    "earned_points": 486,
    "completed_at": "2026-12-05T10:32:15+08:00",
}
_REFUND_LINE = {
    "line_no": 2,
    "quantity": 1,
    "points": 0,
    "points_fen": 0,
    "stored_value_fen": 1808,
    "cash_fen": 5705,
}
_REFUND = {
    "refund_no": "SO20261205A17-R1",
    "goods_fen": 8800,
    "shipping_fen": 0,
    "points": 0,
    "points_fen": 0,
    "stored_value_fen": 1808,
    "cash_fen": 5705,
    "earned_points_reversed": 90,
    "coupons_restored": [],
    "account_closed": False,
    "stored_value_paid_out_fen": 0,
    "lines": [_REFUND_LINE],
    "created_at": "2026-12-06T14:05:33+08:00",
}
_ORDER_DETAIL = {
    **_COMPLETED,
    "status": "partially_refunded",
    "refunded_stored_value_fen": 1808,
    "refunded_cash_fen": 5705,
    "lines": [_ORDER_LINES[0], {**_ORDER_LINES[1], "refunded_quantity": 1}],
    "refunds": [_REFUND],
    "events": [
        {
            "kind": "commit",
            "from_status": "",
            "to_status": "committed",
            "reference": "",
            "created_at": "2026-12-05T10:31:50+08:00",
        },
        {
            "kind": "complete",
            "from_status": "committed",
            "to_status": "completed",
            "reference": "",
            "created_at": "2026-12-05T10:32:15+08:00",
        },
        {
            "kind": "refund",
            "from_status": "completed",
            "to_status": "partially_refunded",
            "reference": "SO20261205A17-R1",
            "created_at": "2026-12-06T14:05:33+08:00",
        },
    ],
}

_QUOTE_RULES = """
计价按固定顺序：**会员折扣**（等级、会员卡、会员日，按件计算）→ **优惠券**（在会员价上）→ **积分抵现**
（在剩余商品金额上）→ **储值** → **现金**；每一步都分摊到各行，所以每行都有自己的份额。

- `coupon_ids` 不传或为 null：自动选择最优的券组合；传 `[]`：不用券；传具体 id：只用这些券。
  `coupon_evaluations` 列出我的每张可用券能否用于本单：`reason` 为不可用的原因（`no_shipping_fee` 本单无运费、
  `gift_not_in_basket` 兑换商品不在购物车、`out_of_scope` 不在适用范围、`threshold_not_met` 未达门槛，
  `shortfall_fen` 为还差多少、`zero_discount` 减免为零），`discount_fen` 为单用这张券能减多少。
- `points` 为要抵现的积分（须为抵扣单位的整数倍，不超过 `points_max`：本单上限与我的余额中较小者），
  `points_fen` 为抵掉的金额；`stored_value_fen` 为要用的储值金额（不超过应付）。
- `cash_fen` 为需另付的现金（商户收取），`points_estimate` 为订单完成后预计获得的积分（按 `points_multiplier`，
  未计入积分上限），`fingerprint` 为本次报价的指纹，下单时作为 `quote_hash` 传入。
"""
_QUOTE_ERRORS = [
    exc.InvalidBasket,
    exc.CouponNotApplicable,
    exc.CouponsNotCombinable,
    exc.CouponRepeated,
    CouponNotAvailable,
    exc.PointsDeductionDisabled,
    exc.PointsNotCombinable,
    exc.InvalidPoints,
    exc.PointsBelowMinimum,
    exc.PointsAboveCap,
    InsufficientPoints,
    exc.StoredValueExceedsDue,
    InsufficientBalance,
    AccountFrozen,
    MemberClosed,
]
_ORDER_FIELDS = """
订单 `status`：`committed` 已提交待支付、`cancelled` 已取消、`completed` 已完成、`partially_refunded` 部分退款、
`refunded` 已全额退款。金额字段与报价相同；`earned_points` 为完成时获得的积分，`refunded_*` 为累计退回的
储值、现金与积分；`expires_at` 为未支付订单的自动取消时间。
"""

member_quote = docs.operation(
    tag=docs.CHECKOUT,
    summary="试算购物车（会员价、优惠券、积分、储值）",
    description=f"""
小程序结算页用：按我的会员权益、优惠券、要用的积分和储值给购物车报价。只计算，不锁券、不扣积分、不写任何数据，
可随用户调整反复调用。下单由商户订单系统调用 `POST /api/v1/server/orders` 完成（把同一个购物车与 `fingerprint`
交给订单系统）。
{_QUOTE_RULES}""",
    money=True,
    errors=_QUOTE_ERRORS,
    examples=[request_example(_BASKET), response_example(_QUOTE)],
)

my_orders = docs.operation(
    tag=docs.CHECKOUT,
    summary="我的订单",
    description=f"""
我的订单，新的在前，游标分页，每单带明细行。退款与状态变化看订单详情。
{_ORDER_FIELDS}""",
    money=True,
    examples=[response_example(_COMPLETED)],
)

my_order = docs.operation(
    tag=docs.CHECKOUT,
    summary="我的订单详情",
    description=f"""
我的一笔订单，带明细行、退款记录（每次退款退回的储值、现金、积分，以及追回的积分）与状态变化记录。
别人的订单返回 404 `order_not_found`。
{_ORDER_FIELDS}""",
    money=True,
    errors=[exc.OrderNotFound],
    examples=[response_example(_ORDER_DETAIL)],
)

server_quote = docs.operation(
    tag=docs.SERVER,
    summary="试算订单",
    description=f"""
订单系统为会员 `member_id`（由“按 openid 或手机号查会员”取得）的购物车报价，与小程序的试算相同，只计算不写数据。
会员不存在返回 404 `member_not_found`，已注销返回 409 `member_closed`。
{_QUOTE_RULES}""",
    caller=docs.SERVER_CALLER,
    money=True,
    errors=[exc.MemberNotFound, *_QUOTE_ERRORS],
    examples=[request_example({**_BASKET, "member_id": 1024}), response_example(_QUOTE)],
)

server_commit = docs.operation(
    tag=docs.SERVER,
    summary="下单：锁券、扣积分、扣储值",
    description="""
按报价下单：在一个事务里锁定所用的券、扣除积分、扣减储值，返回订单（201），其中 `cash_fen` 为商户需向顾客收取的
现金。请求体是报价时的购物车加上 `member_id`、商户订单号 `order_no` 与报价指纹 `quote_hash`（报价响应的 `fingerprint`）。

服务端会重新计算报价：与 `quote_hash` 不一致，或期间券已被用掉、积分或储值不足，返回 409 `quote_stale`，
`details.quote` 为最新报价（请让顾客确认后用新的指纹重新下单），不做任何修改。

顾客付款并履约后调用“完成订单”；未支付则调用“取消订单”，或到 `expires_at` 自动取消、退回券、积分与储值。

**门店下单**：带 `store_code`（门店编码，可选 `staff_code` 工号），订单记下门店与店员；没有 `member_id` 时用顾客出示的
会员码 `member_code` 代替，会员码随即绑定到这笔订单，不能再用于别的订单（`member_code_used`）。门店不存在
`store_not_found`、已停业 `store_closed`、工号不存在 `staff_not_found`、不在该门店 `staff_not_in_store`。
门店订单的储值支付超过商户设定的金额（结算设置“门店储值免确认上限”）时，不扣款，返回 **202**
`awaiting_confirmation`：会员须在 60 秒内在小程序确认。收银台用同一个 `order_no`、同一个购物车重试下单
（建议每 2 秒）：会员确认后重试即扣款下单（201）；会员拒绝返回 409 `counter_payment_declined`，超时返回 409
`counter_payment_timed_out`（换一个订单号重新下单，或改用现金）。每笔门店储值扣款都会通知会员（站内消息/订阅消息）。
""",
    caller=docs.SERVER_CALLER,
    idempotency=(
        "以 `order_no` 幂等，无需 `Idempotency-Key`：同一个 `order_no` 重复提交返回 200 与第一次的订单"
        "（`replayed: true`）；同一个 `order_no` 换了购物车返回 409 `idempotency_conflict`。"
    ),
    money=True,
    errors=[
        exc.MemberNotFound,
        exc.QuoteStale,
        (409, "idempotency_conflict", "同一个 order_no 已用于另一个购物车"),
        exc.MemberRequired,
        exc.StaffWithoutStore,
        exc.CounterPaymentDeclined,
        exc.CounterPaymentTimedOut,
        MemberCodeInvalid,
        MemberCodeExpired,
        MemberCodeUsed,
        StoreNotFound,
        StoreClosed,
        StaffNotFound,
        StaffNotInStore,
        *_QUOTE_ERRORS,
    ],
    examples=[
        request_example(
            {**_BASKET, "member_id": 1024, "order_no": "SO20261205A17", "quote_hash": _FINGERPRINT}
        ),
        request_example(
            {
                **_BASKET,
                "member_code": "660123456789012345",
                "store_code": "SH-001",
                "staff_code": "S012",
                "order_no": "SH001-20261205-0042",
                "quote_hash": _FINGERPRINT,
            },
            name="门店下单（会员码）",
        ),
        response_example(
            {
                "status": "awaiting_confirmation",
                "order_no": "SH001-20261205-0042",
                "counter_payment_id": 311,
                "stored_value_fen": 56000,
                "expires_at": "2026-12-05T10:31:00+08:00",
            },
            name="等待会员确认储值支付",
            status=202,
        ),
        response_example({**_ORDER, "replayed": False}, name="下单成功", status=201),
        response_example({**_ORDER, "replayed": True}, name="重复提交（返回第一次的订单）"),
    ],
)

server_order = docs.operation(
    tag=docs.SERVER,
    summary="查询订单",
    description=f"""
按商户订单号查询订单，带明细行、退款记录与状态变化记录（包括超时自动取消）。不存在返回 404 `order_not_found`。
{_ORDER_FIELDS}""",
    caller=docs.SERVER_CALLER,
    money=True,
    errors=[exc.OrderNotFound],
    examples=[response_example(_ORDER_DETAIL)],
)

server_cancel = docs.operation(
    tag=docs.SERVER,
    summary="取消未支付订单",
    description="""
取消一笔已提交、未完成的订单：释放锁定的券，退回积分与储值，返回已取消的订单。`reason` 为取消原因（可选）。
重复取消返回同一张已取消的订单；已完成的订单不能取消（409 `order_already_completed`，请走退款）。
""",
    caller=docs.SERVER_CALLER,
    idempotency="重复取消同一订单返回 200 与已取消的订单，不重复退回。",
    money=True,
    errors=[exc.OrderNotFound, exc.OrderAlreadyCompleted],
    examples=[
        request_example({"reason": "顾客未付款"}),
        response_example(
            {**_ORDER, "status": "cancelled", "cancelled_at": "2026-12-05T10:45:02+08:00", "replayed": False}
        ),
    ],
)

server_complete = docs.operation(
    tag=docs.SERVER,
    summary="完成订单（已付款并履约）",
    description="""
顾客已付款、订单已履约时调用：核销所用的券，按下单时的积分倍数发放消费积分（按储值与现金实付部分计算，不含运费与
积分抵扣部分），发放首单与邀请奖励，并计入成长值、累计消费、等级与会员卡条件。无请求体；返回订单，
`earned_points` 为获得的积分。已取消的订单返回 409 `order_cancelled`。
""",
    caller=docs.SERVER_CALLER,
    idempotency="同一订单重复调用返回 200 与同样的结果，积分与成长值只发一次。",
    money=True,
    errors=[exc.OrderNotFound, exc.OrderCancelled, exc.OrderFullyRefunded],
    examples=[response_example({**_COMPLETED, "replayed": False})],
)

server_refund = docs.operation(
    tag=docs.SERVER,
    summary="订单退款（全部或部分）",
    description="""
为已完成的订单退款，返回退款单（201）。`lines` 列出要退的行号 `line_no` 与件数 `quantity`；不传 `lines`
则退掉订单剩余的全部。一笔订单可以多次部分退款，每次用新的 `refund_no`。

每件商品按它分摊到的每一种优惠与支付原路退回：积分退回原批次，储值退回本金与赠送金，`cash_fen` 为商户需退给
顾客的现金；已发放的消费积分按比例追回（`earned_points_reversed`）。最后一次退款还退回运费，并在整单退完、
券仍在有效期时恢复所用的券（`coupons_restored`）。`order_status` 为退款后的订单状态。

会员已注销账户时退款照常完成，但不再退给该账户任何东西（`account_closed` 为 `true`）：积分与券不退回，消费积分
不追回（注销时已作废）；储值部分无法退回已注销的账户，其中本金 `stored_value_paid_out_fen` 由商户连同 `cash_fen`
另行退给顾客，赠送金作废。未注销时 `account_closed` 为 `false`，`stored_value_paid_out_fen` 为 0。

未完成的订单返回 409 `order_not_completed`（未支付的请取消）；超过剩余可退件数返回 409 `refund_exceeds_remaining`；
行号不存在返回 400 `refund_line_not_found`。
""",
    caller=docs.SERVER_CALLER,
    idempotency=(
        "以 `refund_no` 幂等，无需 `Idempotency-Key`：同一个 `refund_no` 重复提交返回 200 与第一次的退款单"
        "（`replayed: true`）；同一个 `refund_no` 换了内容返回 409 `idempotency_conflict`。"
    ),
    money=True,
    errors=[
        exc.OrderNotFound,
        exc.OrderNotCompleted,
        exc.OrderCancelled,
        exc.OrderFullyRefunded,
        exc.RefundExceedsRemaining,
        exc.RefundLineNotFound,
        exc.InvalidBasket,
        (409, "idempotency_conflict", "同一个 refund_no 已用于另一笔退款"),
    ],
    examples=[
        request_example(
            {"refund_no": "SO20261205A17-R1", "lines": [{"line_no": 2, "quantity": 1}]}, name="部分退款"
        ),
        request_example({"refund_no": "SO20261205A17-R2"}, name="退掉剩余全部"),
        response_example(
            {**_REFUND, "order_status": "partially_refunded", "replayed": False}, name="退款成功", status=201
        ),
        response_example(
            {**_REFUND, "order_status": "partially_refunded", "replayed": True},
            name="重复提交（返回第一次的退款单）",
        ),
    ],
)


_COUNTER_PAYMENT = {
    "id": 311,
    "order_no": "SH001-20261205-0042",
    "store_name": "静安嘉里店",
    "stored_value_fen": 56000,
    "goods_fen": 58000,
    "status": "pending",
    "created_at": "2026-12-05T10:30:00+08:00",
    "expires_at": "2026-12-05T10:31:00+08:00",
}

counter_payments_pending = docs.operation(
    tag=docs.COUNTER,
    summary="待我确认的门店储值支付",
    description="""
门店收银用储值支付、金额超过商户设定的免确认上限时，需要会员本人在 60 秒内确认。小程序在出示会员码的页面
轮询此接口（建议每 2 秒），有待确认的支付就弹出确认框（门店、金额），调用确认或拒绝。只返回还没过期的。
""",
    money=True,
    examples=[response_example(_COUNTER_PAYMENT)],
)

counter_payment_confirm = docs.operation(
    tag=docs.COUNTER,
    summary="确认门店储值支付",
    description="""
会员确认这笔门店储值支付；收银台随后重试下单即扣款。重复确认返回同一结果。已拒绝的返回 409
`counter_payment_decided`，超过 60 秒返回 409 `counter_payment_timed_out`，别人的或不存在的返回 404。
""",
    money=True,
    errors=[exc.CounterPaymentNotFound, exc.CounterPaymentDecided, exc.CounterPaymentTimedOut],
    examples=[response_example({**_COUNTER_PAYMENT, "status": "confirmed"})],
)

counter_payment_decline = docs.operation(
    tag=docs.COUNTER,
    summary="拒绝门店储值支付",
    description="""
会员拒绝这笔门店储值支付：收银台重试下单时返回 409 `counter_payment_declined`，不扣任何款。重复拒绝返回同一结果；
已确认的返回 409 `counter_payment_decided`。
""",
    money=True,
    errors=[exc.CounterPaymentNotFound, exc.CounterPaymentDecided, exc.CounterPaymentTimedOut],
    examples=[response_example({**_COUNTER_PAYMENT, "status": "declined"})],
)
