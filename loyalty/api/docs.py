"""The API as its documentation tells it, to the developers of the mini-program and of the order system.

Written in Chinese, for them, as plain strings (reference text, not interface: no gettext).
``operation()`` documents one operation, so each says the same things in the same order: what it
does, who calls it and how it proves itself, its idempotency, its error codes and its examples.
The error codes come from the exception classes the operation can raise, so a code or an HTTP
status cannot drift from what the view answers.  ``document_the_api``, a post-processing hook,
writes the front page and the tags.  ``tests/loyalty/test_api_docs.py`` holds every operation to it.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.utils import translation
from django.utils.functional import lazy
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from loyalty.errors import ApplicationError

# --- tags, in the order the docs list them ---------------------------------------------------

AUTH = "登录"
ME = "会员"
MEMBERSHIP = "等级与会员卡"
POINTS = "积分"
STORED_VALUE = "储值"
COUPONS = "优惠券"
MALL = "积分商城"
GROWTH = "拼团"
CHECKOUT = "结算与订单"
PAYMENTS = "支付"
MESSAGES = "消息"
SERVER = "订单（服务端）"
COUNTER = "门店收银"
HEALTH = "健康检查"

TAGS = [
    {"name": AUTH, "description": "小程序登录换取会员 token；退出登录。"},
    {"name": ME, "description": "会员首页摘要、资料、手机号绑定、导出我的个人信息、注销账户。"},
    {
        "name": MEMBERSHIP,
        "description": "会员等级与成长值、当前权益、会员卡（免费领取、条件卡、付费卡与试用）、会员日。",
    },
    {"name": POINTS, "description": "积分余额与明细、每日签到与签到日历。"},
    {"name": STORED_VALUE, "description": "储值余额与明细、充值方案、充值下单（微信支付）。"},
    {"name": COUPONS, "description": "领券中心、领券、我的优惠券与核销二维码。"},
    {"name": MALL, "description": "积分商城：分类、商品、兑换（纯积分或积分+现金）、兑换记录、收货地址。"},
    {
        "name": GROWTH,
        "description": (
            "拼团：活动、团的公开状态（头像、差几人、倒计时）、开团、参团、我的拼团；砍价；"
            "分享海报（小程序码带分享者，好友注册记为其邀请）。"
        ),
    },
    {"name": CHECKOUT, "description": "小程序侧试算购物车（会员价、优惠券、积分抵现、储值），查看我的订单。"},
    {
        "name": PAYMENTS,
        "description": "微信支付：重新获取 wx.requestPayment 参数、开发环境模拟支付、微信支付结果通知。",
    },
    {"name": MESSAGES, "description": "站内消息与订阅消息（wx.requestSubscribeMessage）的授权上报。"},
    {
        "name": SERVER,
        "description": (
            "商户订单系统与收银台调用（服务端到服务端，HMAC 签名，不供小程序调用）："
            "查会员、试算、下单、完成、取消、退款、核销优惠券。"
        ),
    },
    {
        "name": COUNTER,
        "description": (
            "到店消费：会员码（小程序出示、收银台识别）、门店储值支付的会员确认（小程序轮询待确认、确认或拒绝）。"
        ),
    },
    {"name": HEALTH, "description": "负载均衡与监控用的存活检查。"},
]

# --- who calls an operation, and how it proves itself ------------------------------------------

MEMBER = "member"
SERVER_CALLER = "server"
PUBLIC = "public"
WECHAT_PAY = "wechat_pay"

_CALLERS = {
    MEMBER: (
        "小程序（已登录会员）。请求头 `Authorization: Bearer <token>`，"
        "token 由 `POST /api/v1/auth/wechat-login` 返回。"
    ),
    SERVER_CALLER: (
        "商户订单系统 / 收银台（服务端）。请求带 HMAC-SHA256 签名头 `X-Api-Key`、`X-Timestamp`、"
        "`X-Nonce`、`X-Signature`（算法见首页“服务端签名”）。小程序不要调用。"
    ),
    PUBLIC: "任何调用方，无需认证。",
    WECHAT_PAY: (
        "微信支付服务器（支付与退款结果通知，即 notify_url），以微信支付平台签名验证。"
        "小程序与订单系统不要调用。"
    ),
}
_AUTH_ERRORS = {
    MEMBER: [(401, "not_authenticated", "未带 token，或 token 无效、已过期、已退出登录")],
    SERVER_CALLER: [
        (401, "signature_missing", "缺少四个签名头之一"),
        (401, "signature_expired", "X-Timestamp 与服务器时间相差超出允许窗口"),
        (401, "signature_invalid", "Key 不存在或已停用、X-Nonce 格式不对，或签名不符"),
        (401, "signature_replayed", "X-Nonce 已经用过"),
    ],
    PUBLIC: [],
    WECHAT_PAY: [],
}

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    location="header",
    required=True,
    description=(
        "幂等键，1–255 个字符。每次用户操作生成一个新值（建议 UUID），网络重试时沿用同一个值："
        "24 小时内重复请求返回第一次的响应。"
    ),
)
_IDEMPOTENCY_ERRORS = [
    (400, "idempotency_key_required", "缺少 Idempotency-Key 请求头，或长度不在 1–255"),
    (409, "idempotency_conflict", "同一个 Idempotency-Key 用于了不同的参数"),
]

NO_CONTENT = OpenApiResponse(description="成功，无响应体。")

MONEY = "**金额单位为分**：所有 `*_fen` 字段都是整数分（`12345` 即 ¥123.45）。"

Error = type[ApplicationError] | tuple[type[ApplicationError], str] | tuple[int, str, str]


def _error_rows(caller: str, idempotency_key: bool, throttle_scope: str | None, errors: Sequence[Error]):
    """(HTTP status, code, explanation) of every error code the operation answers with, by status and code.

    An exception class's explanation is its message, lazily: it is translated when the schema is built.
    """
    rows = list(_AUTH_ERRORS[caller])
    if idempotency_key:
        rows += _IDEMPOTENCY_ERRORS
    if throttle_scope:
        rows.append((429, "throttled", "请求过于频繁"))
    for error in errors:
        if isinstance(error, tuple) and len(error) == 3:
            rows.append(error)
        else:
            cls, text = error if isinstance(error, tuple) else (error, error.default_message)
            rows.append((cls.status_code, cls.code, text))
    return sorted({(status, code): why for status, code, why in rows}.items())


def _zh(text) -> str:
    with translation.override("zh-hans"):
        return str(text).rstrip("。.")


def _rate(scope: str) -> str:
    return settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope]


def _render(
    text: str,
    caller: str,
    idempotency_key: bool,
    idempotency: str | None,
    throttle_scope: str | None,
    money: bool,
    rows,
) -> str:
    parts = [text.strip(), f"**调用方**：{_CALLERS[caller]}"]
    if idempotency_key:
        parts.append(
            "**幂等**：必须带 `Idempotency-Key` 请求头。24 小时内用同一个键重复请求，返回第一次的响应"
            "（响应头 `Idempotent-Replayed: true`），不会重复扣减或发放。"
        )
    if idempotency:
        parts.append(f"**幂等**：{idempotency}")
    if throttle_scope:
        parts.append(
            f"**限流**：默认 `{_rate(throttle_scope)}`（已登录按会员计，未登录按来源地址计），"
            "超出返回 429 `throttled`，按响应头 `Retry-After` 的秒数后再试。"
        )
    if money:
        parts.append(MONEY)
    table = [
        "**错误码**（各状态码下的响应示例列出每个 code）",
        "",
        "| HTTP | code | 说明 |",
        "| --- | --- | --- |",
    ]
    table += [f"| {status} | `{code}` | {_zh(why)} |" for (status, code), why in rows]
    parts.append("\n".join(table) if rows else "**错误码**：无业务错误码。")
    parts.append("另有通用错误（如 400 `validation_error`、503 `database_unavailable`），见首页“错误格式”。")
    return "\n\n".join(parts)


_render_lazily = lazy(_render, str)  # at schema time: settings as they are then, translations ready


def operation(
    *,
    tag: str,
    summary: str,
    description: str,
    examples: Sequence[OpenApiExample],
    caller: str = MEMBER,
    errors: Sequence[Error] = (),
    idempotency_key: bool = False,
    idempotency: str | None = None,
    throttle_scope: str | None = None,
    money: bool = False,
):
    """``extend_schema`` with the documentation of one operation (stacks with the view's own).

    ``idempotency_key`` adds the required ``Idempotency-Key`` header (the view must be
    ``@idempotent``); ``idempotency`` describes a natural key instead (``order_no``).
    ``money`` says the amounts are fen.  ``errors`` are the exception classes the operation
    raises (their code, status and Chinese message), or ``(class, text)`` or ``(status, code, text)``;
    the caller's authentication errors, the idempotency errors and 429 are added here.  They are
    listed in the description, and in ``x-error-codes``, from which ``document_the_api`` makes an
    example of each error response.
    """
    rows = _error_rows(caller, idempotency_key, throttle_scope, errors)
    return extend_schema(
        tags=[tag],
        summary=summary,
        description=_render_lazily(
            description, caller, idempotency_key, idempotency, throttle_scope, money, rows
        ),
        parameters=[IDEMPOTENCY_KEY] if idempotency_key else None,
        examples=list(examples),
        extensions={
            "x-error-codes": [
                {"status": status, "code": code, "message": why} for (status, code), why in rows
            ]
        },
    )


def request_example(value, name: str = "请求示例", **kwargs) -> OpenApiExample:
    return OpenApiExample(name, value=value, request_only=True, **kwargs)


def response_example(value, name: str = "成功响应", status: int = 200, **kwargs) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status)], **kwargs)


# --- the front page -----------------------------------------------------------------------

DESCRIPTION = """
面向两类调用方：**微信小程序**（会员端接口）与**商户订单系统 / 收银台**（`/api/v1/server/…`，服务端签名）。
每个接口都写明调用方、认证、幂等要求、可能返回的错误码，并附请求与响应示例。

## 基本约定

- 基础路径 `/api/v1/`；请求与响应都是 JSON（`Content-Type: application/json`，UTF-8）。
- **金额单位为分**：所有 `*_fen` 字段都是整数分（`12345` 即 ¥123.45），从不用小数；积分是整数。
- 折扣以基点表示：`discount_bp` 为 500 即减 5%（95 折）。
- 时间为 ISO 8601，带时区（`2026-12-05T10:30:00+08:00`）。
- 输入是严格的：未知字段、类型不符（如把数字写成字符串）一律 400 `validation_error`，不会被猜测或忽略。
- 历史列表（积分明细、订单、优惠券等）用游标分页：`?page_size=`（1–100，默认 20），
  响应为 `{"next", "previous", "results"}`，翻页时直接请求 `next` 给出的地址。

## 认证

### 会员（小程序）

1. 调用 `wx.login()` 取得 `code`，请求 `POST /api/v1/auth/wechat-login`，得到 `token`（默认 30 天有效）。
2. 之后每个请求带请求头 `Authorization: Bearer <token>`。token 过期、退出登录或账户注销后返回
   401 `not_authenticated`，重新登录即可。

在本页点 **Authorize**，把 token 填入 `memberToken` 即可直接试调会员接口。

### 服务端签名（订单系统 / 收银台）

运营在后台“接口客户端”里为订单系统创建 Key（`ak_…`），密钥只显示一次。每个请求带四个请求头：

| 请求头 | 内容 |
| --- | --- |
| `X-Api-Key` | Key ID，如 `ak_3f9c2a71b5e04d86` |
| `X-Timestamp` | 当前 Unix 时间（秒）；与服务器时间相差超过 300 秒即拒绝 |
| `X-Nonce` | 8–64 位 `[A-Za-z0-9_-]` 随机串，每个请求一个，不可重复 |
| `X-Signature` | 十六进制 HMAC-SHA256(密钥, 待签名串) |

待签名串是下面五行用换行符 `\\n` 连接（路径含查询串，与实际发送的完全一致；请求体取实际发送的字节，无请求体时为空串）：

```
POST
/api/v1/server/orders
1796429287
9f86d081884c7d659a2feaa0c55ad015
<请求体的 SHA-256 十六进制>
```

Python 参考实现：

```python
import hashlib, hmac, json, secrets, time

body = json.dumps(payload, ensure_ascii=False).encode()
ts, nonce = str(int(time.time())), secrets.token_hex(16)
message = "\\n".join(["POST", "/api/v1/server/orders", ts, nonce, hashlib.sha256(body).hexdigest()])
headers = {
    "X-Api-Key": key_id,
    "X-Timestamp": ts,
    "X-Nonce": nonce,
    "X-Signature": hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest(),
}
```

签名错误、过期或重放的请求返回 401，且不做任何修改。本页的“Try it out”无法签名，服务端接口请用上面的代码调用。

## 幂等

- 会员端会扣减或发放价值的 POST（领券、充值、兑换、开卡、购卡、注销等）必须带请求头
  `Idempotency-Key`（1–255 个字符，建议每次用户操作生成一个 UUID，网络重试时沿用）。
  24 小时内同一个键的重复请求返回第一次的响应（响应头 `Idempotent-Replayed: true`）；
  同一个键用于不同参数返回 409 `idempotency_conflict`；缺少时返回 400 `idempotency_key_required`。
- 服务端下单与退款以 `order_no`、`refund_no` 作天然幂等键，无需该请求头：重复提交返回 200
  和第一次的结果（`replayed: true`）。

## 错误格式

所有错误的响应体都是：

```json
{"code": "coupon_sold_out", "message": "优惠券已被领完。", "details": {}}
```

- `code`：稳定的机器可读错误码，程序据此分支；
- `message`：可直接展示给用户的说明，按请求头 `Accept-Language` 返回（默认中文，可选英文）；
- `details`：补充信息；校验失败时按字段列出原因，如 `{"amount_fen": ["请确保该值大于或者等于 1。"]}`。

各接口的说明列出它特有的错误码，各错误状态码下有每个 code 的响应示例（机器可读的列表在该接口的
`x-error-codes` 中）；下面这些通用错误码任何接口都可能返回：

| HTTP | code | 说明 |
| --- | --- | --- |
| 400 | `validation_error` | 参数校验失败，`details` 按字段给出原因 |
| 400 | `malformed_request` | 请求体不是合法的 JSON |
| 400 | `request_too_large` | 请求体过大 |
| 401 | `not_authenticated` | 会员接口：未带 token，或 token 无效、已过期 |
| 401 | `signature_missing` / `signature_expired` / `signature_invalid` / `signature_replayed` | 服务端接口：签名缺失、过期、不符或重放 |
| 404 | `not_found` | 地址不存在 |
| 405 | `method_not_allowed` | 该地址不支持此 HTTP 方法 |
| 415 | `unsupported_media_type` | 请求体不是 `application/json` |
| 429 | `throttled` | 请求过于频繁，按响应头 `Retry-After` 的秒数后重试 |
| 503 | `database_unavailable` | 服务短暂不可用，未做任何修改；稍后重试（带同一个 `Idempotency-Key`） |
"""

# What an error response of each status is, when the view did not say.
_STATUS_DESCRIPTIONS = {
    400: "请求有误",
    401: "未认证",
    403: "无权进行此操作",
    404: "不存在",
    409: "与当前状态冲突",
    429: "请求过于频繁",
    503: "服务暂不可用，未做任何修改",
}
# Any operation that takes input can answer 400 validation_error; any with an id in its path, 404;
# any at all, 503 database_unavailable (shown where the operation lists no 503 of its own).
_GENERIC_ERRORS = {
    400: ("validation_error", "部分字段无效", {"amount_fen": ["请确保该值大于或者等于 1。"]}),
    404: ("not_found", "未找到", {}),
    503: ("database_unavailable", "服务短暂不可用，未做任何修改，请稍后重试", {}),
}


def _error_examples(operation) -> None:
    """An example of every error code of the operation, under its status (responses added where missing)."""
    responses = operation.setdefault("responses", {})
    for status, response in responses.items():
        if not response.get("description"):
            response["description"] = (
                "成功" if status < "400" else _STATUS_DESCRIPTIONS.get(int(status), "错误")
            )
    # New dicts: the operation's extension is shared by every schema built, and its messages are lazy.
    entries = [{**entry, "message": _zh(entry["message"])} for entry in operation.get("x-error-codes", [])]
    if entries:
        operation["x-error-codes"] = entries
    for entry in entries:
        response = responses.setdefault(
            str(entry["status"]),
            {
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                "description": _STATUS_DESCRIPTIONS.get(entry["status"], "错误"),
            },
        )
        examples = response["content"]["application/json"].setdefault("examples", {})
        examples[entry["code"]] = {
            "summary": f"{entry['code']}：{entry['message']}",
            "value": {"code": entry["code"], "message": f"{entry['message']}。", "details": {}},
        }
    for status, (code, message, details) in _GENERIC_ERRORS.items():
        content = responses.get(str(status), {}).get("content", {}).get("application/json")
        if content is not None and (status == 400 or not content.get("examples")):
            content.setdefault("examples", {})[code] = {
                "summary": f"{code}：{message}",
                "value": {"code": code, "message": f"{message}。", "details": details},
            }


def document_the_api(result, generator, request, public):
    """Post-processing hook: the front page, the tags in their order, and an example of every error."""
    result["info"]["description"] = DESCRIPTION.strip()
    result["tags"] = TAGS
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and "responses" in operation:
                _error_examples(operation)
    return result
