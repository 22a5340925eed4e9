"""The documentation of the notifications API (the inbox and subscription messages)."""

from loyalty.api import docs
from loyalty.api.docs import request_example, response_example
from notifications.exceptions import UnknownTemplate

_SUBSCRIPTIONS = {
    "results": [
        {"kind": "coupons_expiring", "template_id": "TPL-3vQx8kLm2Rb9Yw1Nc6Ea", "credits": 0},
        {"kind": "points_expiring", "template_id": "TPL-7dHs2pWq5Zt0Uf4Jg8Ko", "credits": 1},
    ]
}

notifications = docs.operation(
    tag=docs.MESSAGES,
    summary="我的站内消息",
    description="""
站内消息（消息中心），新的在前，游标分页。`kind` 为消息类型（如 `points_expiring` 积分即将过期、
`coupons_expiring` 优惠券即将过期），`data` 为该类型附带的数据（如积分数、过期时间），`read_at`
为空表示未读。
""",
    examples=[
        response_example(
            {
                "id": 5821,
                "kind": "points_expiring",
                "title": "积分即将过期",
                "body": "您有 300 积分将于 2026-12-31 后过期，请尽快使用。",
                "data": {"points": 300, "expires_at": "2027-01-01T00:00:00+08:00"},
                "created_at": "2026-12-05T09:00:00+08:00",
                "read_at": None,
            }
        )
    ],
)

mark_read = docs.operation(
    tag=docs.MESSAGES,
    summary="标记消息为已读",
    description="把一条我的消息标记为已读；重复标记无副作用。无请求体；成功返回 204，无响应体。",
    errors=[(404, "not_found", "没有这条消息，或不是我的消息")],
    examples=[],
)

subscriptions = docs.operation(
    tag=docs.MESSAGES,
    summary="可订阅的消息模板",
    description="""
小程序调用 `wx.requestSubscribeMessage({tmplIds})` 前先取本接口：`template_id` 即 tmplIds 里的值，
`kind` 为提醒类型，`credits` 为我已授权、服务端还可以给我发送该模板消息的次数（每次“允许”加 1，用掉减 1）。
""",
    examples=[response_example(_SUBSCRIPTIONS)],
)

subscriptions_report = docs.operation(
    tag=docs.MESSAGES,
    summary="上报订阅消息授权结果",
    description="""
把 `wx.requestSubscribeMessage` 的回调结果原样上报：`results` 为 `{模板 id: 结果}`，结果取
`accept`（允许）、`reject`（拒绝）、`ban`（已被后台封禁）、`filter`（被过滤），一次最多 3 个模板。
每个 `accept` 记一次可发送额度；返回上报模板的最新额度。模板 id 不是运营配置过的返回 400
`unknown_template`（`details.template_ids` 列出），不做任何记录。
""",
    idempotency_key=True,
    errors=[UnknownTemplate],
    examples=[
        request_example(
            {"results": {"TPL-7dHs2pWq5Zt0Uf4Jg8Ko": "accept", "TPL-3vQx8kLm2Rb9Yw1Nc6Ea": "reject"}}
        ),
        response_example(_SUBSCRIPTIONS),
    ],
)
