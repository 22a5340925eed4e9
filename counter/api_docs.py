"""The documentation of the till's counter API (会员码 resolution)."""

from loyalty.api import docs
from loyalty.api.docs import request_example, response_example
from members.exceptions import MemberClosed, MemberCodeExpired, MemberCodeInvalid, MemberCodeUsed
from stores.exceptions import StoreClosed, StoreNotFound

resolve = docs.operation(
    tag=docs.COUNTER,
    summary="识别会员码（收银台）",
    description="""
收银台扫到顾客出示的会员码（18 位数字条形码，或二维码内容 `member-code:…`），连同门店编码 `store_code`
换成会员：等级、当前权益、积分、储值余额、当前可用的优惠券。只读，不改变任何东西。

之后的试算、下单照常调用 `POST /api/v1/server/checkout/quote` 与 `POST /api/v1/server/orders`，下单时用
`member_code` 代替 `member_id`，并带上 `store_code`（可选 `staff_code`）：会员码就此绑定到这笔订单，
不能再用于别的订单。

拒绝（均不写入任何数据）：码不存在或伪造 `member_code_invalid`；过期或已被新码取代 `member_code_expired`；
已用于一笔订单 `member_code_used`；会员已注销 `member_closed`；门店不存在 `store_not_found`、
已停业 `store_closed`。每个门店的识别次数有频率限制（见下）。
""",
    caller=docs.SERVER_CALLER,
    throttle_scope="member_code_resolve",
    errors=[MemberCodeInvalid, MemberCodeExpired, MemberCodeUsed, MemberClosed, StoreNotFound, StoreClosed],
    money=True,
    examples=[
        request_example({"code": "660123456789012345", "store_code": "SH-001"}),
        response_example(
            {
                "store_code": "SH-001",
                "code_expires_at": "2026-12-05T10:31:00+08:00",
                "member": {
                    "id": 1024,
                    "nickname": "王芳",
                    "phone": "138****5678",
                    "registered_at": "2026-03-08T10:21:37+08:00",
                },
                "tier": {"level": 2, "name": "金卡"},
                "benefits": {
                    "discount_bp": 500,
                    "free_shipping": True,
                    "points_multiplier": "3/2",
                    "sources": {"discount": "tier:2", "points_multiplier": "tier:2"},
                },
                "points": 3200,
                "stored_value": {
                    "balance_fen": 56000,
                    "principal_fen": 50000,
                    "bonus_fen": 6000,
                    "frozen": False,
                    "balance": "¥560.00",
                },
                "coupons": [
                    {
                        "id": 88,
                        "name": "满100减20",
                        "face": "满¥100.00减¥20.00",
                        "kind": "amount_off",
                        "valid_until": "2026-12-31T23:59:59+08:00",
                    }
                ],
            }
        ),
    ],
)
