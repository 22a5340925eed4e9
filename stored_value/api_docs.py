"""The documentation of the stored-value API (balance, plans, recharges, history)."""

from loyalty.api import docs
from loyalty.api.docs import request_example, response_example
from payments.api_docs import PAY_AFTERWARDS, PAYMENT_PARAMS
from payments.exceptions import PaymentUnavailable
from stored_value.exceptions import (
    AccountFrozen,
    AmountOutOfRange,
    BalanceCapExceeded,
    PlanAlreadyUsed,
    PlanUnavailable,
    RechargeNotFound,
)

RECHARGE = {
    "id": 61,
    "plan_id": 1,
    "plan_name": "充值有礼",
    "amount_fen": 50000,
    "bonus_fen": 3000,
    "gift_points": 0,
    "status": "credited",
    "out_trade_no": "P20261205080807EDAD2F9D96F5",
    "created_at": "2026-12-05T10:30:07+08:00",
    "credited_at": "2026-12-05T10:30:41+08:00",
}

balance = docs.operation(
    tag=docs.STORED_VALUE,
    summary="我的储值余额",
    description="""
储值余额 = 本金（`principal_fen`，实付充值剩余，可由商家退款）+ 赠送金（`bonus_fen`，充值赠送剩余，只能消费、
不退）。消费时本金与赠送金按商户设置拆分（默认按比例），明细里分别列出。`frozen` 为 `true` 时账户被冻结，不能消费或充值。
""",
    money=True,
    examples=[
        response_example({"principal_fen": 31604, "bonus_fen": 1896, "balance_fen": 33500, "frozen": False})
    ],
)

plans = docs.operation(
    tag=docs.STORED_VALUE,
    summary="可用的充值方案",
    description="""
我现在可以用的充值方案，按展示顺序。`kind`：

- `tiers` 阶梯：`tiers` 列出各档 `pay_fen` 充值金额与 `bonus_fen` 赠送金额，赠送按达到的最高一档（不按比例）；
- `ratio` 按比例：每充 `ratio_pay` 赠 `ratio_bonus`（同一单位）；
- `open` 任意金额，无赠送。

充值金额须在 `min_fen`–`max_fen` 之间；`gift_points` 为充值成功额外赠送的积分；`first_recharge_only`
表示仅限首次充值；`ends_at` 为活动截止时间（null 为长期）。已用完次数的方案不会出现在这里。
""",
    money=True,
    examples=[
        response_example(
            {
                "id": 1,
                "name": "充值有礼",
                "kind": "tiers",
                "min_fen": 10000,
                "max_fen": 500000,
                "tiers": [
                    {"pay_fen": 50000, "bonus_fen": 3000},
                    {"pay_fen": 150000, "bonus_fen": 15000},
                    {"pay_fen": 300000, "bonus_fen": 30000},
                ],
                "ratio_pay": 10,
                "ratio_bonus": 0,
                "gift_points": 200,
                "first_recharge_only": False,
                "ends_at": None,
            }
        )
    ],
)

recharges = docs.operation(
    tag=docs.STORED_VALUE,
    summary="我的充值记录",
    description="""
我的充值单，新的在前，游标分页。`status`：`created` 待支付、`credited` 已到账、`closed` 已关闭（超时未付）、
`refunded` 已退款。`bonus_fen` 与 `gift_points` 为该单的赠送金额与赠送积分。
""",
    money=True,
    examples=[response_example(RECHARGE)],
)

recharge_create = docs.operation(
    tag=docs.STORED_VALUE,
    summary="发起充值",
    description=f"""
按一个充值方案创建充值单与微信支付单，返回充值单（`status` 为 `created`）与 `wx.requestPayment` 所需参数 `payment`。
`amount_fen` 为实付金额：阶梯方案可传任一档的 `pay_fen`，也可传区间内任意金额（赠送按达到的最高一档）。
{PAY_AFTERWARDS}
拒绝的情况（不创建任何单据）：方案不可用或已结束（`plan_unavailable`）、次数已用完（`plan_already_used`）、
金额不在方案区间（`amount_out_of_range`，`details` 给出 `min_fen`、`max_fen`）、充值后余额将超过上限
（`balance_cap_exceeded`，`details.max_amount_fen` 为现在最多还能充多少）、账户已冻结（`account_frozen`）。
在门店扫码充值时可传 `store_code`、`staff_code`（门店编码、店员工号），充值单记下门店与店员；
未知或已闭店的门店、已停用的工号不记录，不影响充值。
""",
    idempotency_key=True,
    money=True,
    errors=[
        PlanUnavailable,
        PlanAlreadyUsed,
        AmountOutOfRange,
        BalanceCapExceeded,
        AccountFrozen,
        PaymentUnavailable,
    ],
    examples=[
        request_example({"plan_id": 1, "amount_fen": 50000}),
        response_example(
            {
                "recharge": {**RECHARGE, "status": "created", "credited_at": None},
                "payment": PAYMENT_PARAMS,
            },
            status=201,
        ),
    ],
)

recharge_detail = docs.operation(
    tag=docs.STORED_VALUE,
    summary="充值单详情",
    description="""
我的一笔充值单。若仍是待支付，会先向微信支付查询一次再返回，所以支付完成后轮询本接口即可看到 `credited`。
不是我的单返回 404 `recharge_not_found`。
""",
    money=True,
    errors=[RechargeNotFound],
    examples=[response_example(RECHARGE)],
)

entries = docs.operation(
    tag=docs.STORED_VALUE,
    summary="储值明细",
    description="""
储值流水，新的在前，游标分页；可按 `kind` 过滤：`recharge` 充值、`bonus` 充值赠送、`spend` 消费、
`spend_refund` 消费退款、`recharge_refund` 充值退款、`adjust` 人工调整。`amount_fen` 增加为正、扣减为负，
并拆分为本金 `principal_fen` 与赠送金 `bonus_fen`；`balance_after_fen` 为记账后的余额；`reference`
为关联单号。
""",
    money=True,
    examples=[
        response_example(
            {
                "id": 119,
                "kind": "spend",
                "amount_fen": -19500,
                "principal_fen": -18396,
                "bonus_fen": -1104,
                "balance_after_fen": 33500,
                "reference": "SO20261205A17",
                "created_at": "2026-12-05T10:32:15+08:00",
            }
        )
    ],
)
