"""WeChat Pay's notification endpoint, and the fake provider's "pay now" for dev and demo."""

from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api.serializers import ErrorSerializer
from loyalty.api.views import NoInputMixin
from payments import services
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

    @extend_schema(
        auth=[],
        request={"application/json": dict},
        responses={204: None, 400: ErrorSerializer, 401: ErrorSerializer},
        tags=["payments"],
        summary="WeChat Pay notification (signed by WeChat; not for the mini-program)",
    )
    def post(self, request):
        services.payment_handle_notification(headers=request.headers, body=request.body)
        return Response(status=204)


class SimulatePayView(NoInputMixin, APIView):
    """Dev and demo only (``WECHATPAY_PROVIDER=fake``): pay one of my payments without WeChat.

    The fake provider sends the signed, encrypted notification WeChat would
    send, through the same handler.  403 ``fake_payments_disabled`` with the
    real provider.
    """

    @extend_schema(
        request=None,
        responses={204: None, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        tags=["payments"],
    )
    def post(self, request, out_trade_no):
        payment = services.payment_get(out_trade_no=out_trade_no)
        if payment.member_id != request.user.pk:
            raise PaymentNotFound()
        services.payment_simulate_pay(payment=payment)
        return Response(status=204)
