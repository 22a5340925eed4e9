"""The documentation of the membership API (tier, benefits, cards, card purchases, member days)."""

from loyalty.api import docs
from loyalty.api.docs import request_example, response_example
from membership.exceptions import (
    CardAlreadyHeld,
    CardConditionNotMet,
    CardNotClaimable,
    CardNotForSale,
    CardPurchaseNotFound,
    CardPurchasePending,
    CardRevoked,
    CardTrialUsed,
    CardTypeNotFound,
    CardTypeUnavailable,
)
from payments.api_docs import PAY_AFTERWARDS, PAYMENT_PARAMS
from payments.exceptions import PaymentUnavailable

_SILVER = {
    "level": 1,
    "name": "白银会员",
    "growth_threshold": 1000,
    "discount_bp": 200,
    "points_multiplier": "1.20",
    "free_shipping": False,
}
_GOLD = {
    "level": 2,
    "name": "黄金会员",
    "growth_threshold": 5000,
    "discount_bp": 500,
    "points_multiplier": "1.50",
    "free_shipping": True,
}
_PLUS = {
    "id": 3,
    "name": "黑金PLUS月卡",
    "kind": "paid",
    "description": "¥19.90/月：9折、包邮、积分翻倍",
    "validity": "permanent",
    "valid_days": 365,
    "valid_from": None,
    "valid_until": None,
    "condition": "",
    "condition_threshold": 0,
    "period": "month",
    "price_fen": 1990,
    "trial_days": 7,
    "discount_bp": 1000,
    "free_shipping": True,
    "points_multiplier": "2.00",
    "background_image": "https://cdn.example.com/cards/plus-bg.png",
    "colour": "#111827",
    "logo_url": "https://cdn.example.com/cards/plus-logo.png",
}
_STORE_CARD = {
    **_PLUS,
    "id": 1,
    "name": "门店会员卡",
    "kind": "free",
    "description": "扫码即领，全场9.8折",
    "period": "month",
    "price_fen": 0,
    "trial_days": 0,
    "discount_bp": 200,
    "free_shipping": False,
    "points_multiplier": "1.00",
    "colour": "#0F766E",
}
_SPEND_CARD = {
    **_PLUS,
    "id": 2,
    "name": "千元消费卡",
    "kind": "conditional",
    "description": "累计实付满¥1,000.00自动开卡：9.5折、包邮",
    "validity": "days",
    "condition": "paid_spend",
    "condition_threshold": 100000,
    "price_fen": 0,
    "trial_days": 0,
    "discount_bp": 500,
    "points_multiplier": "1.00",
    "colour": "#B45309",
}
_CARD_TYPE_FIELDS = """
卡种字段：`kind` 为 `free`（免费领取）、`conditional`（达到条件可领：`condition` 为 `paid_spend` 累计实付金额（分）、
`orders` 完成订单数或 `points` 积分，门槛 `condition_threshold`）或 `paid`（付费卡：每 `period`（`month`、
`quarter`、`year`）`price_fen`，可试用 `trial_days` 天）；`validity` 为 `permanent` 永久、`days`（领取后
`valid_days` 天）或 `range`（`valid_from`–`valid_until`）；权益：`discount_bp` 折扣基点（1000 即 9 折）、
`free_shipping` 包邮、`points_multiplier` 积分倍数；`colour`、`background_image`、`logo_url` 用于卡面展示。
"""
_CARD_ERRORS = [CardTypeNotFound, CardTypeUnavailable, CardAlreadyHeld, CardRevoked]

tier = docs.operation(
    tag=docs.MEMBERSHIP,
    summary="我的等级与升级进度",
    description="""
当前等级、下一等级及还差多少成长值（`growth_needed`，已是最高级为 0），以及全部等级列表（用于等级权益页）。
等级按最近 `window_months` 个月的成长值 `window_growth` 评定；`protected_until` 前不会降级。
`paid_total_fen` 为累计实付（已扣除退款），`completed_orders` 为完成的订单数。
等级权益：`discount_bp` 折扣基点（200 即 98 折）、`points_multiplier` 积分倍数、`free_shipping` 包邮。
""",
    money=True,
    examples=[
        response_example(
            {
                "tier": _SILVER,
                "window_growth": 3260,
                "window_months": 12,
                "growth_total": 4180,
                "paid_total_fen": 418000,
                "completed_orders": 14,
                "protected_until": "2027-03-01T00:00:00+08:00",
                "next_tier": _GOLD,
                "growth_needed": 1740,
                "tiers": [
                    {
                        "level": 0,
                        "name": "普通会员",
                        "growth_threshold": 0,
                        "discount_bp": 0,
                        "points_multiplier": "1.00",
                        "free_shipping": False,
                    },
                    _SILVER,
                    _GOLD,
                ],
            }
        )
    ],
)

tier_history = docs.operation(
    tag=docs.MEMBERSHIP,
    summary="我的等级变动记录",
    description="""
等级变动记录，新的在前，游标分页。`reason`：`order` 订单完成、`task` 任务、`nightly_up` / `nightly_down`
每晚重算升级 / 降级、`refund` 退款、`operator` 运营调整。
""",
    examples=[
        response_example(
            {"from_level": 0, "to_level": 1, "reason": "order", "created_at": "2026-10-18T19:42:05+08:00"}
        )
    ],
)

benefits = docs.operation(
    tag=docs.MEMBERSHIP,
    summary="我当前享有的权益",
    description="""
此刻生效的权益，是等级、会员卡与进行中的会员日合在一起的结果：`discount_bp` 折扣基点（500 即 95 折），
`free_shipping` 包邮，`points_multiplier` 积分倍数（精确分数，如 `"3/2"`）；`sources` 说明各项权益来自哪里
（如 `"card:3"` 会员卡、`"tier:2"` 等级、`"member_day:1"` 会员日）。
""",
    examples=[
        response_example(
            {
                "discount_bp": 1000,
                "free_shipping": True,
                "points_multiplier": "2",
                "sources": {"discount": "card:3", "free_shipping": "card:3", "points_multiplier": "card:3"},
            }
        )
    ],
)

cards = docs.operation(
    tag=docs.MEMBERSHIP,
    summary="我的会员卡",
    description=f"""
我持有的会员卡。`status` 为 `active` 或 `revoked`（被收回）；`source` 为获得方式（`claim` 领取、`condition`
达到条件自动发放、`purchase` 购买、`renew` 续费、`trial` 试用等）；`valid_until` 为空表示永久有效；
`is_valid` 为此刻是否有效；`channel` 为领卡渠道。
{_CARD_TYPE_FIELDS}""",
    money=True,
    examples=[
        response_example(
            {
                "id": 267,
                "card_type": _PLUS,
                "status": "active",
                "source": "trial",
                "valid_from": "2026-12-05T10:30:00+08:00",
                "valid_until": "2026-12-12T10:30:00+08:00",
                "is_valid": True,
                "channel": "",
            }
        )
    ],
)

card_offers = docs.operation(
    tag=docs.MEMBERSHIP,
    summary="可领、可试用、可购买的会员卡",
    description=f"""
此刻上架的卡种，以及我对每种卡能做什么：`held` 已持有、`can_claim` 可领取（免费卡或已达条件的条件卡）、
`can_try` 可免费试用、`can_buy` 可购买或续费；条件卡的 `progress` 为我当前的进度（与 `condition_threshold`
同单位），其他卡为 null。
{_CARD_TYPE_FIELDS}""",
    money=True,
    examples=[
        response_example(
            {
                "card_type": _SPEND_CARD,
                "held": False,
                "can_claim": False,
                "can_buy": False,
                "can_try": False,
                "progress": 55700,
            }
        )
    ],
)

card_claim = docs.operation(
    tag=docs.MEMBERSHIP,
    summary="领取会员卡",
    description="""
领取一张免费卡，或已达到条件的条件卡，返回领到的卡（201）。`channel`、`staff` 取自领卡链接或二维码参数
（渠道与推荐店员，用于统计），没有就不传。付费卡不能领取（409 `card_not_claimable`，请用购买或试用）；
未达条件返回 409 `card_condition_not_met`（`details` 给出 `progress` 与 `threshold`）；已持有且有效返回 409
`card_already_held`。过期的免费卡可以重新领取。`staff` 为店员工号时计入该店员的业绩；`store_code`（门店编码，
取自门店二维码）记为领卡门店，不传时由只在一家门店任职的店员带来其门店；未知或已闭店的门店不记录。
""",
    idempotency_key=True,
    money=True,
    errors=[*_CARD_ERRORS, CardNotClaimable, CardConditionNotMet],
    examples=[
        request_example(
            {"card_type_id": 1, "channel": "qr:store-01", "staff": "S012", "store_code": "HZ-XH"}
        ),
        response_example(
            {
                "id": 22,
                "card_type": _STORE_CARD,
                "status": "active",
                "source": "claim",
                "valid_from": "2026-12-05T10:30:00+08:00",
                "valid_until": None,
                "is_valid": True,
                "channel": "qr:store-01",
            },
            status=201,
        ),
    ],
)

card_trial = docs.operation(
    tag=docs.MEMBERSHIP,
    summary="免费试用付费会员卡",
    description="""
开通一张付费卡的免费试用（`trial_days` 天），返回试用中的卡（201，`source` 为 `trial`）。每位会员每种卡只能
试用一次，且须在购买之前（409 `card_trial_used`）；非付费卡返回 409 `card_not_for_sale`。
""",
    idempotency_key=True,
    money=True,
    errors=[*_CARD_ERRORS, CardNotForSale, CardTrialUsed],
    examples=[
        request_example({"card_type_id": 3}),
        response_example(
            {
                "id": 267,
                "card_type": _PLUS,
                "status": "active",
                "source": "trial",
                "valid_from": "2026-12-05T10:30:00+08:00",
                "valid_until": "2026-12-12T10:30:00+08:00",
                "is_valid": True,
                "channel": "",
            },
            status=201,
        ),
    ],
)

_PURCHASE = {
    "id": 1,
    "card_type_id": 3,
    "card_id": None,
    "period": "month",
    "amount_fen": 1990,
    "status": "created",
    "out_trade_no": "P20261205080808911CFE30F44F",
    "period_start": None,
    "period_end": None,
    "refunded_fen": 0,
    "created_at": "2026-12-05T10:30:08+08:00",
}

card_purchase = docs.operation(
    tag=docs.MEMBERSHIP,
    summary="购买或续费付费会员卡",
    description=f"""
为一张付费卡创建购买单（价格与周期按当前卡种锁定）与微信支付单，返回购买单与 `payment`。支付成功后卡从当前
到期时间（或现在）起延长一个周期；购买单的 `card_id`、`period_start`、`period_end` 随之填上，`status` 变为 `paid`。
{PAY_AFTERWARDS}
同一种卡已有一笔待支付的购买时返回 409 `card_purchase_pending`（`details` 给出那笔的 `purchase_id` 与
`out_trade_no`，可用它继续支付）；非付费卡返回 409 `card_not_for_sale`。
""",
    idempotency_key=True,
    money=True,
    errors=[
        CardTypeNotFound,
        CardTypeUnavailable,
        CardRevoked,
        CardNotForSale,
        CardPurchasePending,
        PaymentUnavailable,
    ],
    examples=[
        request_example({"card_type_id": 3}),
        response_example({"purchase": _PURCHASE, "payment": PAYMENT_PARAMS}, status=201),
    ],
)

card_purchase_detail = docs.operation(
    tag=docs.MEMBERSHIP,
    summary="会员卡购买单详情",
    description="""
我的一笔会员卡购买。`status`：`created` 待支付、`paid` 已支付、`closed` 已关闭（超时未付）、`refunded` 已退款
（`refunded_fen` 为退款金额）。仍待支付时会先向微信支付查询一次再返回，支付后轮询本接口即可。
不是我的购买单返回 404 `card_purchase_not_found`。
""",
    money=True,
    errors=[CardPurchaseNotFound],
    examples=[
        response_example(
            {
                **_PURCHASE,
                "card_id": 268,
                "status": "paid",
                "period_start": "2026-12-05T10:30:41+08:00",
                "period_end": "2027-01-05T10:30:41+08:00",
            }
        )
    ],
)

member_days = docs.operation(
    tag=docs.MEMBERSHIP,
    summary="会员日（进行中与即将开始）",
    description="""
正在进行（`active`）和即将开始（`upcoming`）的会员日场次。会员日期间积分按 `points_multiplier` 倍累积，
另享 `extra_discount_bp` 额外折扣（基点，500 即再减 5%）；`ends_at` 用于倒计时。
""",
    examples=[
        response_example(
            {
                "active": [],
                "upcoming": [
                    {
                        "id": 1,
                        "name": "周三会员日",
                        "points_multiplier": "2.00",
                        "extra_discount_bp": 500,
                        "starts_at": "2026-12-09T00:00:00+08:00",
                        "ends_at": "2026-12-10T00:00:00+08:00",
                    }
                ],
            }
        )
    ],
)
