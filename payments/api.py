"""WeChat Pay's notification endpoint, a member's payment parameters, and the fake provider's "pay now"."""

from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api import docs
from loyalty.api.serializers import ErrorSerializer
from loyalty.api.views import NoInputMixin
from payments import api_docs, services
from payments.exceptions import PaymentNotFound


@method_decorator(csrf_exempt, name="dispatch")
class WechatNotifyView(APIView):
    """WeChat Pay calls this with every payment and refund result (the notify_url).

    No bearer token: the notification proves itself by its signature.  204
    tells WeChat it was applied (or already had been); a 4xx body carries
    ``code`` and ``message`` as WeChat expects, and nothing was written.
    """

    authentication_classes = []
    permission_classes = [AllowAny]

    @api_docs.wechat_notify
    @extend_schema(
        auth=[],
        request={"application/json": dict},
        responses={204: docs.NO_CONTENT, 400: ErrorSerializer, 401: ErrorSerializer},
    )
    def post(self, request):
        services.payment_handle_notification(headers=request.headers, body=request.body)
        return Response(status=204)


@extend_schema_serializer(description="微信支付参数：原样传给 wx.requestPayment。")
class PaymentParamsSerializer(serializers.Serializer):
    """Pass these to wx.requestPayment unchanged."""

    appId = serializers.CharField()  # noqa: N815 - WeChat's names
    timeStamp = serializers.CharField()  # noqa: N815
    nonceStr = serializers.CharField()  # noqa: N815
    package = serializers.CharField()
    signType = serializers.CharField()  # noqa: N815
    paySign = serializers.CharField()  # noqa: N815


def with_payment_params(order: str):
    """An ``@idempotent`` ``after_commit`` hook: ``payment`` gets the wx.requestPayment parameters of the
    payment whose number is ``response.data[order]["out_trade_no"]`` (None when it has none).

    After commit, so the order and its payment are kept whatever WeChat does:
    if it cannot be reached the client gets 503 ``payment_unavailable`` and
    retries with the same Idempotency-Key, which replays the order and asks
    again for the same payment.
    """

    def attach(request, response):
        out_trade_no = response.data[order]["out_trade_no"]
        response.data["payment"] = (
            services.payment_prepay(payment=services.payment_get(out_trade_no=out_trade_no))
            if out_trade_no
            else None
        )
        return response

    return attach


def _mine(request, out_trade_no):
    payment = services.payment_get(out_trade_no=out_trade_no)
    if payment.member_id != request.user.pk:
        raise PaymentNotFound()
    return payment


class PrepayView(NoInputMixin, APIView):
    """The wx.requestPayment parameters of one of my payments still awaiting payment, asked afresh.

    For an order whose first answer was lost or was 503 ``payment_unavailable``
    (WeChat unreachable; the order is kept until its payment times out).
    409 ``payment_not_pending`` once paid, closed or expired.
    """

    @api_docs.prepay
    @extend_schema(
        request=None,
        responses={
            200: PaymentParamsSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            503: ErrorSerializer,
        },
    )
    def post(self, request, out_trade_no):
        return Response(services.payment_prepay(payment=_mine(request, out_trade_no)))


class SimulatePayView(NoInputMixin, APIView):
    """Dev and demo only (``WECHATPAY_PROVIDER=fake``): pay one of my payments without WeChat.

    The fake provider sends the signed, encrypted notification WeChat would
    send, through the same handler.  403 ``fake_payments_disabled`` with the
    real provider.
    """

    @api_docs.simulate_pay
    @extend_schema(
        request=None,
        responses={204: docs.NO_CONTENT, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    def post(self, request, out_trade_no):
        services.payment_simulate_pay(payment=_mine(request, out_trade_no))
        return Response(status=204)
