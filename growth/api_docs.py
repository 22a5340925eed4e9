"""The documentation of the 拼团 API (activities, a group's public state, open, join, my groups)."""

from growth.exceptions import (
    ActivityNotFound,
    ActivityNotOpen,
    AlreadyHelped,
    AlreadyInGroup,
    BargainAtFloor,
    BargainClosed,
    BargainLimitReached,
    BargainNotFound,
    GroupBuyLimitReached,
    GroupExpired,
    GroupFull,
    GroupNotFound,
    GroupSoldOut,
    HelpLimitReached,
    NewHelpersOnly,
    NewMembersOnly,
    NotAtFloor,
    OwnBargain,
    PosterFontMissing,
    PosterSceneNotFound,
    PosterTargetNotFound,
)
from loyalty.api import docs
from loyalty.api.docs import request_example, response_example
from mall.exceptions import AddressNotFound, AddressRequired
from members.exceptions import MemberClosed, MiniProgramCodeRefused, WechatUnavailable
from payments.api_docs import PAY_AFTERWARDS, PAYMENT_PARAMS
from payments.exceptions import PaymentUnavailable

_ACTIVITY = {
    "id": 3,
    "name": "双人拼团·保温杯",
    "item_id": 7,
    "item_name": "不锈钢保温杯 500ml",
    "kind": "physical",
    "image_url": "https://cdn.example.com/mall/cup.jpg",
    "group_price_fen": 3900,
    "original_price_fen": 6900,
    "group_size": 2,
    "time_limit_minutes": 1440,
    "stock_left": 182,
    "per_member_limit": 2,
    "new_members_only": False,
    "starts_at": "2026-12-01T00:00:00+08:00",
    "ends_at": "2026-12-31T23:59:59+08:00",
}
_GROUP = {
    "id": 51,
    "activity_id": 3,
    "activity_name": "双人拼团·保温杯",
    "state": "open",
    "size": 2,
    "joined_count": 1,
    "places_left": 1,
    "price_fen": 3900,
    "deadline": "2026-12-06T10:30:40+08:00",
    "seconds_left": 80321,
    "members": [
        {"nickname": "王芳", "avatar_url": "https://thirdwx.qlogo.cn/mmopen/a1.png", "is_leader": True}
    ],
}
_PLACE = {
    "id": 88,
    "activity_id": 3,
    "activity_name": "双人拼团·保温杯",
    "group_id": 51,
    "group_state": "open",
    "group_deadline": "2026-12-06T10:30:40+08:00",
    "role": "member",
    "status": "pending_payment",
    "amount_fen": 3900,
    "out_trade_no": "P20261205103040A1B2C3D4E5F6",
    "refund_reason": "",
    "redemption_id": None,
    "coupon_id": None,
    "created_at": "2026-12-05T10:30:40+08:00",
    "paid_at": None,
    "completed_at": None,
    "refunded_at": None,
    "share": {
        "path": "pages/growth/group?id=51&channel=groupbuy:3&invite_code=K7P2QX9A",
        "channel": "groupbuy:3",
        "invite_code": "K7P2QX9A",
    },
}
_STATUSES = """
参团记录 `status`：`pending_payment` 待支付、`joined` 已付款在团中、`completed` 已成团并已发放（实物进入积分商城发货
队列，`redemption_id` 为其发货单；优惠券立即发放，`coupon_id`）、`refunded` 已全额退款（`refund_reason`）、
`closed` 超时未支付。
"""

activities = docs.operation(
    tag=docs.GROWTH,
    summary="拼团活动列表",
    description="""
正在进行的拼团活动：成团价 `group_price_fen`、原价 `original_price_fen`、成团人数 `group_size`（含团长）、
开团后的时限 `time_limit_minutes`、剩余件数 `stock_left`、每人限参 `per_member_limit`、是否仅新会员可参团
`new_members_only`（老带新：活动开始后注册的会员才能参团，任何人都可开团）。
""",
    money=True,
    examples=[response_example(_ACTIVITY)],
)

activity_detail = docs.operation(
    tag=docs.GROWTH,
    summary="拼团活动详情",
    description="""
一个进行中的活动，以及可直接参加的团 `open_groups`（差人最少、最早截止的在前，最多 10 个）。
不存在、未开始、已结束或已下架的活动返回 404 `activity_not_found`。
""",
    money=True,
    errors=[ActivityNotFound],
    examples=[response_example({"activity": _ACTIVITY, "open_groups": [_GROUP]})],
)

group_detail = docs.operation(
    tag=docs.GROWTH,
    summary="团的公开状态",
    description="""
分享链接（小程序路径带团 id）打开的团：已付款成员的头像与昵称 `members`（都是真实会员，无虚拟成团）、
还差几人 `places_left`、截止时间 `deadline` 与倒计时 `seconds_left`、状态 `state`（`open` 拼团中、
`complete` 已成团、`failed` 未成团，所有付款已原路全额退回）。不存在的团返回 404 `group_not_found`。
""",
    money=True,
    errors=[GroupNotFound],
    examples=[response_example(_GROUP)],
)

_REFUSALS = """
付款时才占用库存、占用团里的名额：最后一个名额被同时付款的多人争抢时只有先到的一笔成团，其余付款（以及团已满、
已截止、已失败、库存已售罄时到账的付款）立即原路全额退款，参团记录为 `refunded`。团在截止前未满员则失败，
所有付款全额退款。
"""

open_group = docs.operation(
    tag=docs.GROWTH,
    summary="开团",
    description=f"""
以成团价开一个新团（实物须传收货地址 `address_id`）。团开出后，参团记录的 `share` 给出分享路径：好友从分享注册时，
登录接口传其中的 `channel` 与 `invite_code`，新会员即记入本活动渠道、邀请人为我（邀请奖励照常）。返回参团记录（201，`role` 为 `leader`，`status` 为
`pending_payment`）与支付参数 `payment`；团长付款后团才开出，时限从付款时起算。
{PAY_AFTERWARDS}
{_REFUSALS}
拒绝的情况什么也不写：活动不存在（404 `activity_not_found`）、未开始或已结束（409 `activity_not_open`）、
库存已售罄（409 `sold_out`）、超过每人限参（409 `group_buy_limit_reached`）、账户已注销（409 `member_closed`）。
{_STATUSES}
""",
    idempotency_key=True,
    money=True,
    errors=[
        ActivityNotFound,
        ActivityNotOpen,
        GroupSoldOut,
        GroupBuyLimitReached,
        MemberClosed,
        AddressRequired,
        AddressNotFound,
        PaymentUnavailable,
    ],
    examples=[
        request_example({"activity_id": 3, "address_id": 9}),
        response_example(
            {
                "place": {
                    **_PLACE,
                    "role": "leader",
                    "group_id": None,
                    "group_state": None,
                    "group_deadline": None,
                },
                "payment": PAYMENT_PARAMS,
            },
            status=201,
        ),
    ],
)

join_group = docs.operation(
    tag=docs.GROWTH,
    summary="参团",
    description=f"""
付款加入分享来的团（实物须传收货地址 `address_id`）。返回参团记录（201，`pending_payment`）与支付参数 `payment`。
{PAY_AFTERWARDS}
{_REFUSALS}
拒绝的情况什么也不写：团不存在（404 `group_not_found`）、团已满（409 `group_full`）、团已截止或已失败
（409 `group_expired`）、已在这个团里（团长也不能参加自己的团，409 `already_in_group`）、仅限新会员
（403 `new_members_only`）、库存已售罄（409 `sold_out`）、超过每人限参（409 `group_buy_limit_reached`）、
账户已注销（409 `member_closed`）。
{_STATUSES}
""",
    idempotency_key=True,
    money=True,
    errors=[
        GroupNotFound,
        ActivityNotFound,
        GroupFull,
        GroupExpired,
        AlreadyInGroup,
        NewMembersOnly,
        GroupSoldOut,
        GroupBuyLimitReached,
        MemberClosed,
        AddressRequired,
        AddressNotFound,
        PaymentUnavailable,
    ],
    examples=[
        request_example({"address_id": 9}),
        response_example({"place": _PLACE, "payment": PAYMENT_PARAMS}, status=201),
    ],
)

my_groups = docs.operation(
    tag=docs.GROWTH,
    summary="我的拼团",
    description=f"""
我的参团记录（开团与参团），最新的在前，最多 100 条，带团的状态与截止时间。
{_STATUSES}
""",
    money=True,
    examples=[
        response_example({**_PLACE, "status": "completed", "group_state": "complete", "redemption_id": 301})
    ],
)

my_group = docs.operation(
    tag=docs.GROWTH,
    summary="我的一条参团记录",
    description=f"""
一条我的参团记录；仍待支付的会先向微信支付查询一次（通知可能迟到）。不是我的或不存在返回 404 `group_not_found`。
{_STATUSES}
""",
    money=True,
    errors=[GroupNotFound],
    examples=[response_example(_PLACE)],
)


# --- 砍价 -------------------------------------------------------------------------------------------

_BARGAIN_ACTIVITY = {
    "id": 5,
    "name": "好友帮砍·蓝牙音箱",
    "item_id": 8,
    "item_name": "便携蓝牙音箱",
    "kind": "physical",
    "image_url": "https://cdn.example.com/mall/speaker.jpg",
    "original_price_fen": 19900,
    "floor_price_fen": 990,
    "helpers_needed": 10,
    "time_limit_minutes": 1440,
    "stock_left": 47,
    "per_member_limit": 1,
    "helpers_must_be_new": False,
    "helper_daily_limit": 3,
    "buy_above_floor": False,
    "starts_at": "2026-12-01T00:00:00+08:00",
    "ends_at": "2026-12-31T23:59:59+08:00",
}
_HELP = {
    "seq": 1,
    "nickname": "李雷",
    "avatar_url": "https://thirdwx.qlogo.cn/mmopen/b2.png",
    "cut_fen": 3125,
    "price_after_fen": 16775,
    "created_at": "2026-12-05T10:35:02+08:00",
}
_BARGAIN = {
    "id": 77,
    "activity_id": 5,
    "activity_name": "好友帮砍·蓝牙音箱",
    "starter_nickname": "王芳",
    "starter_avatar_url": "https://thirdwx.qlogo.cn/mmopen/a1.png",
    "state": "open",
    "original_price_fen": 19900,
    "floor_price_fen": 990,
    "price_fen": 16775,
    "helpers_needed": 10,
    "helps_count": 1,
    "buy_above_floor": False,
    "deadline": "2026-12-06T10:30:40+08:00",
    "seconds_left": 85790,
    "helps": [_HELP],
}
_MY_BARGAIN = {
    **_BARGAIN,
    "out_trade_no": "",
    "paid_fen": None,
    "redemption_id": None,
    "coupon_id": None,
    "share": {
        "path": "pages/growth/bargain?id=77&channel=bargain:5&invite_code=K7P2QX9A",
        "channel": "bargain:5",
        "invite_code": "K7P2QX9A",
    },
}
_BARGAIN_STATES = """
砍价 `state`：`open` 砍价中（好友可帮砍，可购买时可下单）、`pending_payment` 待支付（此时不能再砍；支付超时未付则
恢复为 `open`）、`paid` 已购买（实物进入积分商城发货队列 `redemption_id`，优惠券立即发放 `coupon_id`）、
`expired` 已结束未购买。每一刀的金额在发起时就已随机确定：恰好第 `helpers_needed` 刀砍到底价，分毫不差，绝不低于底价。
"""

bargain_activities = docs.operation(
    tag=docs.GROWTH,
    summary="砍价活动列表",
    description="""
正在进行的砍价活动：原价 `original_price_fen`、底价 `floor_price_fen`、砍到底价所需好友数 `helpers_needed`、
时限、剩余件数、每人可发起次数、帮砍者是否须为新会员、每位好友每天帮砍上限、未到底价是否可买 `buy_above_floor`。
""",
    money=True,
    examples=[response_example(_BARGAIN_ACTIVITY)],
)

start_bargain = docs.operation(
    tag=docs.GROWTH,
    summary="发起砍价",
    description=f"""
以原价发起一个砍价（实物须传收货地址 `address_id`），返回砍价（201）；按 `share.path` 分享给好友帮砍，好友从分享注册时
登录接口传 `share` 里的 `channel` 与 `invite_code`，新会员即记入本活动渠道、邀请人为我。
拒绝的情况什么也不写：活动不存在（404 `activity_not_found`）、未开始或已结束（409 `activity_not_open`）、
已售罄（409 `sold_out`）、超过每人可发起次数（409 `bargain_limit_reached`）、账户已注销（409 `member_closed`）。
{_BARGAIN_STATES}
""",
    idempotency_key=True,
    money=True,
    errors=[
        ActivityNotFound,
        ActivityNotOpen,
        GroupSoldOut,
        BargainLimitReached,
        MemberClosed,
        AddressRequired,
        AddressNotFound,
    ],
    examples=[
        request_example({"activity_id": 5, "address_id": 9}),
        response_example({**_MY_BARGAIN, "price_fen": 19900, "helps_count": 0, "helps": []}, status=201),
    ],
)

my_bargains = docs.operation(
    tag=docs.GROWTH,
    summary="我的砍价",
    description=f"""
我发起的砍价，最新的在前，最多 100 个，带每一刀（帮砍好友的头像、昵称、金额）。
{_BARGAIN_STATES}
""",
    money=True,
    examples=[response_example(_MY_BARGAIN)],
)

bargain_detail = docs.operation(
    tag=docs.GROWTH,
    summary="砍价的公开状态",
    description=f"""
分享链接打开的砍价：发起人、当前价、底价、已砍刀数与所需刀数、倒计时 `seconds_left`、每一刀（帮砍好友的头像、昵称、
砍掉的金额）。不存在的砍价返回 404 `bargain_not_found`。
{_BARGAIN_STATES}
""",
    money=True,
    errors=[BargainNotFound],
    examples=[response_example(_BARGAIN)],
)

help_bargain = docs.operation(
    tag=docs.GROWTH,
    summary="帮好友砍一刀",
    description="""
登录会员帮好友砍一刀，返回这一刀（201）。每人每个砍价只能砍一次（再砍 409 `already_helped`，天然幂等：不会砍两刀），
不能砍自己的（409 `own_bargain`）；已结束、已购买或待支付时 409 `bargain_closed`，已到底价 409 `bargain_at_floor`；
活动要求新会员帮砍而我不是（403 `new_members_only`）；超过今天的帮砍次数（409 `help_limit_reached`）；
账户已注销（409 `member_closed`）；不存在（404 `bargain_not_found`）。拒绝时什么也不写。
""",
    idempotency="每位会员对每个砍价只能砍一刀（唯一约束），重复请求得到 409 `already_helped`。",
    money=True,
    errors=[
        BargainNotFound,
        OwnBargain,
        BargainClosed,
        BargainAtFloor,
        NewHelpersOnly,
        AlreadyHelped,
        HelpLimitReached,
        MemberClosed,
    ],
    examples=[response_example(_HELP, status=201)],
)

buy_bargain = docs.operation(
    tag=docs.GROWTH,
    summary="按砍后价购买",
    description=f"""
发起人在截止前按当前价下单，返回砍价（`pending_payment`）与支付参数 `payment`。须已砍到底价，活动允许时也可按未到
底价的当前价买（否则 409 `bargain_not_at_floor`）。付款到账时才占用库存；那时已售罄则原路全额退款、砍价恢复为
`open`。待支付时再次调用返回同一笔支付。
{PAY_AFTERWARDS}
拒绝的情况什么也不写：不是我的或不存在（404 `bargain_not_found`）、已结束或已购买（409 `bargain_closed`）、已售罄
（409 `sold_out`）、账户已注销（409 `member_closed`）。
{_BARGAIN_STATES}
""",
    idempotency_key=True,
    money=True,
    errors=[BargainNotFound, BargainClosed, NotAtFloor, GroupSoldOut, MemberClosed, PaymentUnavailable],
    examples=[
        response_example(
            {
                "bargain": {
                    **_MY_BARGAIN,
                    "state": "pending_payment",
                    "price_fen": 990,
                    "helps_count": 10,
                    "seconds_left": 0,
                    "out_trade_no": "P20261205113000B1C2D3E4F5A6",
                },
                "payment": PAYMENT_PARAMS,
            }
        ),
    ],
)

# --- 分享海报 ---------------------------------------------------------------------------------------

poster = docs.operation(
    tag=docs.GROWTH,
    summary="分享海报（PNG）",
    description="""
服务端画好的分享海报，响应为 `image/png`（750×1250）：我的头像与昵称、分享的东西（名称、价格（元）、图片）和一个
小程序码。`kind` 为 `group`（我已付款、仍在拼团中的团）、`bargain`（我发起、仍在砍价中的砍价）、`item`（在售的
积分商城商品）、`card`（可领取或购买的会员卡）或 `shop`（店铺，不传 `id`）；其他的返回 404
`poster_target_not_found`，什么也不写。

小程序码由微信 `wxacode.getUnlimited` 生成，打开对应页面（团 `pages/growth/group`、砍价 `pages/growth/bargain`、
商品 `pages/mall/item`、会员卡 `pages/membership/claim`、店铺 `pages/index/index`），页面参数 `scene` 是我这张海报的
场景值：页面用 `GET /api/v1/growth/poster-scene?scene=` 查到要打开的团或商品；好友首次登录时把它作为
`poster_scene` 传给登录接口，新会员即记入活动渠道、邀请人为我（邀请奖励及其上限照常）。
同一个目标的海报场景值不变，小程序码只向微信要一次；微信繁忙返回 503 `wechat_unavailable`，
微信拒绝（如页面未发布）返回 503 `wxacode_refused`（`details.errcode` 为微信的错误码）。
""",
    throttle_scope="poster",
    money=True,
    errors=[PosterTargetNotFound, PosterFontMissing, WechatUnavailable, MiniProgramCodeRefused],
    examples=[],
)

poster_scene = docs.operation(
    tag=docs.GROWTH,
    summary="海报小程序码的去向",
    description="""
从海报的小程序码进入的页面带 `scene` 参数：本接口给出它指向的目标 `kind` 与 `target_id`（店铺为 null）、要打开的
小程序路径 `path`、注册渠道 `channel`，以及分享者的昵称与头像。未知的场景值返回 404 `poster_scene_not_found`。
登录时把同一个 `scene` 作为 `poster_scene` 传给 `POST /api/v1/auth/wechat-login`，新会员即记为分享者邀请。
""",
    errors=[PosterSceneNotFound],
    examples=[
        response_example(
            {
                "kind": "group",
                "target_id": 51,
                "path": "pages/growth/group?id=51",
                "channel": "groupbuy:3",
                "sharer_nickname": "王芳",
                "sharer_avatar_url": "https://thirdwx.qlogo.cn/mmopen/a1.png",
            }
        )
    ],
)
