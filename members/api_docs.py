"""The documentation of the members API (login, profile, phone, the "me" summary, member lookup)."""

from loyalty.api import docs
from loyalty.api.docs import request_example, response_example
from members.exceptions import (
    BirthdayChangeLimited,
    MemberClosed,
    PhoneTaken,
    ReferrerNotFound,
    WechatCodeInvalid,
    WechatUnavailable,
)

PROFILE = {
    "id": 1024,
    "nickname": "王芳",
    "avatar_url": "https://thirdwx.qlogo.cn/mmopen/vi_32/Q0j4TwGTfTL/132",
    "gender": 2,
    "birthday": "1992-05-18",
    "phone": "13812345678",
    "invite_code": "7F3A9C2E",
    "registration_channel": "qr:store-01",
    "registered_at": "2026-03-08T10:21:37+08:00",
}
_NEW_MEMBER = {
    **PROFILE,
    "nickname": "",
    "avatar_url": "",
    "gender": 0,
    "birthday": None,
    "phone": "",
    "registered_at": "2026-12-05T10:30:00+08:00",
}


def _login(summary: str, description: str, errors=()):
    return docs.operation(
        tag=docs.AUTH,
        summary=summary,
        description=description,
        caller=docs.PUBLIC,
        throttle_scope="login",
        errors=[ReferrerNotFound, *errors],
        examples=[
            request_example(
                {
                    "code": "0a3Xk2ll2kLbKc4kZ6ol2m1Wkk0Xk2lL",
                    "channel": "qr:store-01",
                    "invite_code": "7F3A9C2E",
                }
            ),
            response_example(
                {
                    "token": "q6Zk0m3vQb9X2yTfLr8Wd1sNcE5uHj7Kp4aGi0oRzYw",
                    "expires_at": "2027-01-04T10:30:00+08:00",
                    "is_new_member": False,
                    "member": PROFILE,
                },
                name="老会员登录",
            ),
            response_example(
                {
                    "token": "Vb2Nf8QpLs0Xc7Tz1Rk9Hy3Wd5Me6Ju4Ag2Ko8Pi1Sx",
                    "expires_at": "2027-01-04T10:30:00+08:00",
                    "is_new_member": True,
                    "member": _NEW_MEMBER,
                },
                name="新会员注册",
                status=201,
            ),
        ],
    )


wechat_login = _login(
    "微信登录（换取会员 token）",
    """
小程序启动时调用 `wx.login()` 取得 `code`，传给本接口换取会员 token；之后的会员接口都带
`Authorization: Bearer <token>`。

- 已是会员：返回 200，`is_new_member` 为 `false`。
- 首次登录：自动注册为会员并返回 201，`is_new_member` 为 `true`；注册时记录来源渠道 `channel`
  （如门店二维码场景值 `qr:store-01`、投放活动）与邀请码 `invite_code`（邀请人的 `invite_code`），
  并发放注册积分与新人礼包。老会员再传这两个字段不会改变什么。
- 从门店或店员二维码进入时传 `store_code`（门店编码）和/或 `staff_code`（店员工号）：新会员的注册门店、
  归属门店和推荐店员由此记录（只传工号时，只在一家门店任职的店员带来其门店）。未知、已闭店的门店或
  已停用的工号不记录、不报错（印好的二维码可能比门店更长寿）；格式不对（非 1–32 位字母、数字、`-`、`_`）
  返回 400 `validation_error`。
- 从分享海报的小程序码进入时传页面参数里的 `scene`（`poster_scene`）：新会员的注册渠道与邀请人取自海报
  （分享者与活动，邀请奖励及其上限照常），优先于 `channel` 与 `invite_code`；未知的场景值不记录、不报错。
- `code` 只能用一次（微信的规则）；重新登录请重新调用 `wx.login()`。
""",
    errors=[WechatCodeInvalid, WechatUnavailable],
)

dev_login = _login(
    "开发登录（不经微信，仅开发与演示环境）",
    """
开发与演示环境专用：不请求微信，同一个 `code` 永远对应同一个会员，便于调试。仅当服务端同时开启
`DEBUG` 与 `WECHAT_DEV_LOGIN` 时可用，生产环境返回 404 `not_found`。请求与响应与微信登录相同。
""",
    errors=[(404, "not_found", "开发登录未开启（生产环境）")],
)

logout = docs.operation(
    tag=docs.AUTH,
    summary="退出登录",
    description="""
让当前 token 立即失效（其他设备上的 token 不受影响）。无请求体；成功返回 204，无响应体。
之后用该 token 请求会得到 401 `not_authenticated`。
""",
    examples=[],
)

me = docs.operation(
    tag=docs.ME,
    summary="“我的”页面摘要",
    description="""
“我的”页面一次取齐：昵称头像、是否已绑定手机号、邀请码，以及可用积分、储值余额（本金 + 赠送金）
与当前可用的优惠券张数。
""",
    money=True,
    examples=[
        response_example(
            {
                "id": 1024,
                "nickname": "王芳",
                "avatar_url": "https://thirdwx.qlogo.cn/mmopen/vi_32/Q0j4TwGTfTL/132",
                "phone_bound": True,
                "invite_code": "7F3A9C2E",
                "registered_at": "2026-03-08T10:21:37+08:00",
                "points": 1280,
                "stored_value_fen": 33500,
                "coupons_available": 3,
            }
        )
    ],
)

profile = docs.operation(
    tag=docs.ME,
    summary="我的资料",
    description="会员资料：昵称、头像、性别（0 未知、1 男、2 女）、生日、手机号、邀请码、注册渠道与时间。",
    examples=[response_example(PROFILE)],
)

profile_update = docs.operation(
    tag=docs.ME,
    summary="修改我的资料",
    description="""
只传要改的字段（昵称、头像地址、性别、生日），其余保持不变；返回修改后的完整资料。
首次填写生日不受限制；之后修改生日每 365 天只能一次（防止反复领取生日礼），否则返回 409
`birthday_change_limited`，`details.next_change_after` 给出下次可改的时间。
资料（昵称、头像、生日、手机号）首次补全时发放完善资料奖励（如有配置）。
""",
    errors=[BirthdayChangeLimited],
    examples=[
        request_example({"nickname": "王芳", "gender": 2, "birthday": "1992-05-18"}),
        response_example(PROFILE),
    ],
)

phone_bind = docs.operation(
    tag=docs.ME,
    summary="绑定手机号",
    description="""
用户点击 `<button open-type="getPhoneNumber">` 授权后，把回调里的 `code` 传给本接口，服务端向微信换取
手机号并绑定，返回更新后的资料。一个手机号只能绑定一个会员，已被他人绑定返回 409 `phone_taken`。
首次绑定手机号发放注册奖励（每个手机号只发一次）。
""",
    errors=[PhoneTaken, WechatCodeInvalid, WechatUnavailable],
    examples=[
        request_example({"code": "e31968a7f94cc5ee25fafc2aef2773f0bb8c3937b22520eb8ee345274d00c144"}),
        response_example(PROFILE),
    ],
)

server_member_lookup = docs.operation(
    tag=docs.SERVER,
    summary="按 openid 或手机号查会员",
    description="""
订单系统或收银台识别顾客：传 `openid` 或 `phone` 其中之一（只能一个），返回会员 id，后续试算、下单
都用这个 `member_id`。查不到返回 404 `not_found`。
""",
    caller=docs.SERVER_CALLER,
    errors=[(404, "not_found", "没有这个 openid 或手机号的会员")],
    examples=[
        response_example(
            {
                "id": 1024,
                "openid": "oX3k45PqZ8sVt2Lm9Rb7Yw1Nc6Ea",
                "unionid": "",
                "phone": "13812345678",
                "nickname": "王芳",
                "registered_at": "2026-03-08T10:21:37+08:00",
            }
        )
    ],
)

member_code = docs.operation(
    tag=docs.COUNTER,
    summary="我的会员码（动态码）",
    description="""
在门店出示的会员码：`code` 是 18 位数字（画成条形码，收银台扫码枪按付款码读取），`qr_payload` 画成二维码
（店员手机扫码用）。每次调用都发一个新码并作废上一个：同一会员同一时刻只有一个有效码，有效期
`valid_seconds` 秒（默认 60），请在 `expires_at` 之前刷新（建议每 50 秒，页面显示时）。
码只能用于一笔订单；截图被盗最多只能用剩下的几秒。已注销的会员拿不到会员码（`member_closed`）。
""",
    throttle_scope="member_code",
    errors=[MemberClosed],
    examples=[
        response_example(
            {
                "code": "660123456789012345",
                "qr_payload": "member-code:660123456789012345",
                "expires_at": "2026-12-05T10:31:00+08:00",
                "valid_seconds": 60,
            }
        )
    ],
)
