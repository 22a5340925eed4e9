"""The documentation of the payments API (prepay again, the fake provider's "pay now", WeChat Pay's notification)."""

from loyalty.api import docs
from loyalty.api.docs import request_example, response_example
from payments.exceptions import (
    FakePaymentsDisabled,
    NotificationInvalid,
    NotificationRejected,
    PaymentNotFound,
    PaymentNotPending,
    PaymentUnavailable,
)

# What wx.requestPayment takes, as every operation that starts a payment returns it.
PAYMENT_PARAMS = {
    "appId": "wx8f3c2a1b9d7e6f50",
    "timeStamp": "1796429287",
    "nonceStr": "0b4012e08c266d1d457b80a51f33b442",
    "package": "prepay_id=wx05100807123456789abcdef0123456700",
    "signType": "RSA",
    "paySign": "ac2Vp9Fe/nligH5wMzQ8IWSKkzT6gSDlL1erA03wNzwyz8eL3VDaSE9pRk85eahAmS3WhsO1+4GLs2INfTFTXsCso4BYF==",
}

PAY_AFTERWARDS = """
返回的 `payment` 原样传给 `wx.requestPayment(payment)` 拉起微信支付。支付结果以服务端收到的微信支付通知为准：
支付完成后轮询本单详情直到状态变化（详情接口会先向微信查询一次未支付的单）。若微信支付暂时不可用，返回 503
`payment_unavailable`，单据已保留：用同一个 `Idempotency-Key` 重试即可，或稍后调用
`POST /api/v1/payments/{out_trade_no}/prepay` 重新获取支付参数。
"""

prepay = docs.operation(
    tag=docs.PAYMENTS,
    summary="重新获取支付参数",
    description="""
为我的一笔待支付单（充值、付费会员卡、积分+现金兑换）重新获取 `wx.requestPayment` 的参数：用于第一次的响应
丢失，或当时微信支付不可用（503 `payment_unavailable`）的情况。`out_trade_no` 取自下单响应。无请求体。
单据已支付、已关闭或已过期时返回 409 `payment_not_pending`；不是我的单返回 404 `payment_not_found`。
""",
    errors=[PaymentNotFound, PaymentNotPending, PaymentUnavailable],
    examples=[response_example(PAYMENT_PARAMS)],
)

simulate_pay = docs.operation(
    tag=docs.PAYMENTS,
    summary="模拟支付成功（仅开发与演示环境）",
    description="""
开发与演示环境专用（`WECHATPAY_PROVIDER=fake`）：不经微信，直接把我的一笔待支付单付掉。模拟支付会生成与微信
相同格式的签名加密通知，走与真实通知相同的处理流程。无请求体；成功返回 204，无响应体。接入真实微信支付时
返回 403 `fake_payments_disabled`。
""",
    errors=[FakePaymentsDisabled, PaymentNotFound, PaymentNotPending],
    examples=[],
)

wechat_notify = docs.operation(
    tag=docs.PAYMENTS,
    summary="微信支付结果通知（微信支付调用）",
    description="""
微信支付 APIv3 的支付与退款结果通知地址（notify_url），由微信支付服务器调用，小程序与订单系统不要调用。
请求头带微信支付平台签名（`Wechatpay-Signature`、`Wechatpay-Timestamp`、`Wechatpay-Nonce`、
`Wechatpay-Serial`），请求体为加密的通知（`resource` 用 APIv3 密钥 AES-256-GCM 解密）。

验签并解密后入账：充值到账、付费会员卡生效、积分+现金兑换转为已支付，退款结果更新退款状态。同一通知重复送达只处理一次。
成功返回 204，无响应体（微信支付据此停止重试）；验签失败返回 401，通知内容无法识别返回 400，
此时不做任何修改，响应体带 `code` 与 `message`。
""",
    caller=docs.WECHAT_PAY,
    errors=[NotificationRejected, NotificationInvalid],
    examples=[
        request_example(
            {
                "id": "EV-2018022511223320873",
                "create_time": "2026-12-05T10:31:02+08:00",
                "resource_type": "encrypt-resource",
                "event_type": "TRANSACTION.SUCCESS",
                "summary": "支付成功",
                "resource": {
                    "original_type": "transaction",
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": "w7Rf2kX9pLq3...（密文，Base64）",
                    "associated_data": "transaction",
                    "nonce": "fdasflkja484w",
                },
            },
            name="支付成功通知",
        )
    ],
)
