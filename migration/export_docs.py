"""The documentation of ``GET /api/v1/me/export`` (a member's own data), and its response's shape."""

from rest_framework import serializers

from loyalty.api import docs
from loyalty.api.docs import response_example


class MyDataSerializer(serializers.Serializer):
    """What the export holds, section by section (each list oldest first)."""

    exported_at = serializers.DateTimeField(help_text="导出时间。")
    profile = serializers.DictField(
        help_text="个人资料：openid、unionid、手机号、昵称、头像、性别、生日、邀请码、注册渠道、注册时间；"
        "`has_referrer` 只说明是否由他人邀请（不给出邀请人），`invited_members` 只给出邀请人数；"
        "标签 `tags`、RFM 分群 `rfm`。"
    )
    sessions = serializers.ListField(
        child=serializers.DictField(), help_text="登录会话的创建、到期、退出时间。"
    )
    membership = serializers.DictField(
        help_text="等级与成长值（`growth_entries`、`tier_changes`）、会员卡与其记录、付费卡购买。"
    )
    points = serializers.DictField(
        help_text="积分余额、积分流水 `entries`、积分批次 `lots`（含剩余与过期时间）、签到。"
    )
    stored_value = serializers.DictField(help_text="储值本金与赠送金（分）、储值流水、充值单、冻结记录。")
    coupons = serializers.ListField(
        child=serializers.DictField(), help_text="我的全部优惠券（含已使用、已过期）。"
    )
    gift_packs = serializers.ListField(child=serializers.DictField(), help_text="收到的礼包。")
    orders = serializers.ListField(
        child=serializers.DictField(), help_text="订单，含商品行 `lines` 与退款 `refunds`。"
    )
    payments = serializers.ListField(child=serializers.DictField(), help_text="微信支付记录。")
    mall = serializers.DictField(help_text="积分商城兑换记录 `redemptions` 与收货地址 `addresses`。")
    notifications = serializers.DictField(
        help_text="站内消息 `inbox`、订阅消息授权 `subscriptions`、已发送的微信消息 `wechat_messages`。"
    )


me_export = docs.operation(
    tag=docs.ME,
    summary="导出我的个人信息",
    description="""
个人信息查阅、复制权（《个人信息保护法》第四十五条）：返回商家保存的、关于当前会员的全部信息，
JSON 文件（响应头 `Content-Disposition: attachment`，可用 `wx.downloadFile` 保存）。

包括：个人资料、标签与分群、登录会话、等级与成长值记录、会员卡、积分流水与批次、签到、储值流水与充值单、
优惠券、礼包、订单（含商品行与退款）、支付记录、积分商城兑换与收货地址、站内消息与订阅消息。

不包括任何他人的信息：邀请人只以 `has_referrer`（是/否）表示，邀请的好友只给出人数，
邀请奖励的关联单号（好友的订单号）留空，操作员不具名；也不包括内部密钥与摘要（幂等键、请求摘要、
token 摘要、微信 session_key）。已注销的账户已匿名化，无法登录，因此也无法导出。
""",
    throttle_scope="me_export",
    money=True,
    examples=[
        response_example(
            {
                "exported_at": "2026-12-06T10:30:00+08:00",
                "profile": {
                    "id": 1042,
                    "openid": "oAbC123",
                    "unionid": "",
                    "phone": "13800138000",
                    "nickname": "小王",
                    "gender": 2,
                    "birthday": "1995-04-12",
                    "has_referrer": True,
                    "invited_members": 2,
                    "tags": ["高价值"],
                },
                "points": {
                    "balance": 1280,
                    "entries": [
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
                    ],
                    "lots": [
                        {
                            "id": 881,
                            "amount": 405,
                            "remaining": 405,
                            "source": "purchase",
                            "earned_at": "2026-12-05T10:32:15+08:00",
                            "expires_at": "2027-12-31T23:59:59+08:00",
                        }
                    ],
                },
                "stored_value": {"principal_fen": 150000, "bonus_fen": 15000, "entries": [], "recharges": []},
                "sessions": [
                    {
                        "created_at": "2026-11-01T09:00:00+08:00",
                        "expires_at": "2026-12-01T09:00:00+08:00",
                        "revoked_at": None,
                    }
                ],
                "membership": {"tier_level": 1, "tier_name": "银卡", "growth_total": 500, "cards": []},
                "coupons": [],
                "gift_packs": [],
                "orders": [],
                "payments": [],
                "mall": {"redemptions": [], "addresses": []},
                "notifications": {"inbox": [], "subscriptions": [], "wechat_messages": []},
            }
        )
    ],
)
