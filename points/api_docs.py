"""The documentation of the points API (balance, history, check-in, check-in calendar)."""

from loyalty.api import docs
from loyalty.api.docs import response_example
from points.exceptions import CheckInDisabled

balance = docs.operation(
    tag=docs.POINTS,
    summary="我的积分",
    description="""
可用积分，以及最先过期的那一批积分的数量与过期时间（用于“xx 积分将于 x 月 x 日过期”的提示；
没有将过期的积分时 `expiring_points` 为 0、`expiring_at` 为 null）。退款追回已用掉的积分时余额可能为负数。
""",
    examples=[
        response_example(
            {"balance": 1280, "expiring_points": 300, "expiring_at": "2027-01-01T00:00:00+08:00"}
        )
    ],
)

entries = docs.operation(
    tag=docs.POINTS,
    summary="积分明细",
    description="""
积分流水，新的在前，游标分页；可按 `kind` 过滤：`earn` 获得、`spend` 使用、`expire` 过期、
`reverse` 冲正（如退款追回）、`adjust` 人工调整。`amount` 获得为正、扣减为负，`balance_after` 为记账后的余额；
`source` 为来源代码（如 `signup` 注册、`checkin` 签到、`purchase` 消费、`mall` 积分商城），
`reference` 为关联单号（订单号、兑换单号等）。
""",
    examples=[
        response_example(
            {
                "id": 1944,
                "kind": "earn",
                "amount": 405,
                "balance_after": 1280,
                "source": "purchase",
                "reference": "SO20261205A17",
                "memo": "",
                "created_at": "2026-12-05T10:32:15+08:00",
            }
        )
    ],
)

check_in = docs.operation(
    tag=docs.POINTS,
    summary="每日签到",
    description="""
今日签到并领取签到积分（连续签到按运营配置另有奖励）。无请求体。

- 今天第一次签到：返回 201，`points` 为本次获得的积分，`streak` 为连续签到天数。
- 今天已签到：返回 200 与今天那次签到，`already_checked_in` 为 `true`，不会重复发积分。

“今天”按商户时区（北京时间）计。运营关闭了签到规则时返回 403 `checkin_disabled`。
""",
    throttle_scope="check_in",
    errors=[CheckInDisabled],
    examples=[
        response_example(
            {"day": "2026-12-05", "streak": 3, "points": 5, "already_checked_in": False},
            name="今日首次签到",
            status=201,
        ),
        response_example(
            {"day": "2026-12-05", "streak": 3, "points": 5, "already_checked_in": True},
            name="今日已签到",
        ),
    ],
)

calendar = docs.operation(
    tag=docs.POINTS,
    summary="签到日历",
    description="""
某月（`month=YYYY-MM`，默认本月）我签到过的日子、每天的连续天数与获得的积分，以及今天是否已签到、
当前连续签到天数（今天还没签到时，截至昨天的连续天数仍然有效）。
""",
    examples=[
        response_example(
            {
                "month": "2026-12",
                "days": [
                    {"day": "2026-12-03", "streak": 1, "points": 5},
                    {"day": "2026-12-04", "streak": 2, "points": 5},
                    {"day": "2026-12-05", "streak": 3, "points": 5},
                ],
                "checked_in_today": True,
                "current_streak": 3,
            }
        )
    ],
)
