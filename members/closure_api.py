"""The close-account endpoint (注销): the workflow of ``members/closure.py``, above every app.

Apart from ``members.api`` so that the members app's own endpoints import nothing above members
(the import contracts in pyproject.toml); only the root URLconf imports this module.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api import docs
from loyalty.api.idempotency import idempotent
from loyalty.api.serializers import ErrorSerializer, JsonBooleanField, StrictSerializer
from members.closure import member_close
from members.exceptions import OrderInProgress, RechargePending, RedemptionInProgress, StoredValueRemaining


class CloseAccountOutput(serializers.Serializer):
    closed_at = serializers.DateTimeField()
    points_forfeited = serializers.IntegerField(help_text="随账户作废的积分。")
    coupons_voided = serializers.IntegerField(help_text="随账户作废的未使用优惠券张数。")


@extend_schema_field({"type": "boolean", "enum": [True]})
class ConfirmationField(JsonBooleanField):
    """Only the JSON boolean ``true`` confirms: not ``"true"``, ``1`` or ``"yes"``."""

    default_error_messages = {
        "confirmation_required": _("Closing an account cannot be undone; confirm it with true."),
    }

    def to_internal_value(self, data):
        if data is not True:
            self.fail("confirmation_required")
        return True


class CloseAccountInput(StrictSerializer):
    confirm = ConfirmationField(help_text="必须为 true：注销不可撤销。")


class CloseAccountView(APIView):
    """Close my account (注销): refused while stored value remains or a recharge awaits payment.

    Points and unused coupons are forfeited, personal data is erased and every
    session ends; the same WeChat user signing in later is a new member.  It
    cannot be undone, so the body must say ``{"confirm": true}``.
    """

    @docs.operation(
        tag=docs.ME,
        summary="注销账户",
        description="""
会员自助注销（不可撤销，请求体必须是 `{"confirm": true}`）。注销后：可用积分与未使用的优惠券作废，
会员卡收回，个人资料（手机号、昵称、头像、生日）清除，所有登录会话失效；同一微信用户以后再登录
是一个新会员。

以下情况拒绝注销（409，不做任何修改）：储值余额（本金或赠送金）不为零（`details` 给出
`principal_fen`、`bonus_fen`，需先用完或由商家退款）；有待支付的充值、付费卡购买、订单，或待支付、
待发货的积分商城兑换。
""",
        idempotency_key=True,
        money=True,
        errors=[
            StoredValueRemaining,
            RechargePending,
            # membership's own exception, which this module (members app) may not import
            (409, "card_purchase_pending", "有一笔会员卡购买正在等待支付"),
            OrderInProgress,
            RedemptionInProgress,
        ],
        examples=[
            docs.request_example({"confirm": True}),
            docs.response_example(
                {"closed_at": "2026-12-05T10:30:00+08:00", "points_forfeited": 1280, "coupons_voided": 2}
            ),
        ],
    )
    @extend_schema(
        request=CloseAccountInput,
        responses={
            200: CloseAccountOutput,
            409: OpenApiResponse(
                ErrorSerializer,
                description="尚有储值或未了结的单据（stored_value_remaining、recharge_pending、"
                "card_purchase_pending、order_in_progress、redemption_in_progress）",
            ),
        },
    )
    @idempotent
    def post(self, request):
        CloseAccountInput(data=request.data).is_valid(raise_exception=True)
        closure = member_close(member_id=request.user.pk)
        return Response(CloseAccountOutput(closure).data)
