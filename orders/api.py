"""Checkout for the mini-program (quote, my orders) and the merchant's order system (signed).

order_no and refund_no are the natural idempotency keys of the server
calls: no Idempotency-Key header is needed.  A replayed commit or refund is
answered 200 with the first result (``replayed: true``).
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api.serializers import MAX_ID, ErrorSerializer, StrictSerializer
from loyalty.api.server_auth import IsApiClient, ServerSignatureAuthentication
from loyalty.api.views import NoInputMixin
from orders import api_docs, counter_payments, rows, selectors, services
from orders.exceptions import OrderNotFound
from orders.models import Order, OrderEvent, OrderLine, Refund, RefundLine
from orders.quote import MAX_LINES, BasketInput, LineInput, compute_quote
from orders.services import quote_as_dict

FEN = {"min_value": 0, "max_value": 10**12}


class LineInputSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64, help_text="商品编码（SKU）。")
    name = serializers.CharField(max_length=120, help_text="商品名称。")
    category = serializers.CharField(
        max_length=64, required=False, default="", allow_blank=True, help_text="品类，用于优惠券适用范围。"
    )
    unit_price_fen = serializers.IntegerField(min_value=1, max_value=10**12, help_text="单价，单位分。")
    quantity = serializers.IntegerField(min_value=1, max_value=10**6, help_text="件数。")


class BasketSerializer(StrictSerializer):
    lines = LineInputSerializer(many=True, allow_empty=False, max_length=200)
    shipping_fen = serializers.IntegerField(default=0, help_text="运费，单位分。", **FEN)
    coupon_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        allow_null=True,
        required=False,
        default=None,
        max_length=10,
        help_text="会员选的券：不传或 null 自动选最优组合；[] 不用券。",
    )
    points = serializers.IntegerField(default=0, help_text="要抵现的积分（积分抵现）。", **FEN)
    stored_value_fen = serializers.IntegerField(default=0, help_text="要用储值支付的金额，单位分。", **FEN)

    def basket(self) -> BasketInput:
        data = self.validated_data
        return BasketInput(
            lines=tuple(LineInput(**line) for line in data["lines"]),
            shipping_fen=data["shipping_fen"],
            coupon_ids=None if data["coupon_ids"] is None else tuple(data["coupon_ids"]),
            points=data["points"],
            stored_value_fen=data["stored_value_fen"],
        )


class ServerQuoteInput(BasketSerializer):
    member_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="会员 id。")


class CommitInput(BasketSerializer):
    member_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="会员 id（与 member_code 二选一）。"
    )
    member_code = serializers.CharField(
        max_length=64,
        required=False,
        default="",
        allow_blank=True,
        help_text="门店：顾客出示的会员码（代替 member_id）。",
    )
    store_code = serializers.CharField(
        max_length=32,
        required=False,
        default="",
        allow_blank=True,
        help_text="门店编码：门店下单时必填，线上订单不传。",
    )
    staff_code = serializers.CharField(
        max_length=32,
        required=False,
        default="",
        allow_blank=True,
        help_text="收银或导购的工号（可选，需带 store_code）。",
    )
    order_no = serializers.CharField(max_length=64, help_text="商户订单号，下单的幂等键。")
    quote_hash = serializers.CharField(max_length=64, help_text="给会员看的那次报价的 fingerprint。")

    def validate(self, attrs):
        if ("member_id" in attrs) == bool(attrs.get("member_code")):
            raise serializers.ValidationError({"member_id": "Give exactly one of member_id or member_code."})
        return attrs


class CounterPaymentPendingSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="awaiting_confirmation：等待会员在小程序确认。")
    order_no = serializers.CharField()
    counter_payment_id = serializers.IntegerField()
    stored_value_fen = serializers.IntegerField()
    expires_at = serializers.DateTimeField(help_text="会员须在此之前确认，否则本单储值支付被拒绝。")


def _pending_response(pending) -> Response:
    payment = pending.payment
    body = {
        "status": "awaiting_confirmation",
        "order_no": payment.order_no,
        "counter_payment_id": payment.pk,
        "stored_value_fen": payment.stored_value_fen,
        "expires_at": payment.expires_at,
    }
    return Response(CounterPaymentPendingSerializer(body).data, status=202)


class QuoteLineSerializer(serializers.Serializer):
    line_no = serializers.IntegerField()
    sku = serializers.CharField()
    category = serializers.CharField()
    name = serializers.CharField()
    unit_price_fen = serializers.IntegerField()
    quantity = serializers.IntegerField()
    amount_fen = serializers.IntegerField()
    benefit_discount_fen = serializers.IntegerField()
    coupon_discount_fen = serializers.IntegerField()
    points = serializers.IntegerField()
    points_fen = serializers.IntegerField()
    stored_value_fen = serializers.IntegerField()
    cash_fen = serializers.IntegerField()


class CouponEvaluationSerializer(serializers.Serializer):
    coupon_id = serializers.IntegerField()
    applicable = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True)
    discount_fen = serializers.IntegerField()
    shortfall_fen = serializers.IntegerField()


class QuoteSerializer(serializers.Serializer):
    member_id = serializers.IntegerField()
    lines = QuoteLineSerializer(many=True)
    goods_fen = serializers.IntegerField()
    shipping_fen = serializers.IntegerField()
    benefit_discount_bp = serializers.IntegerField()
    benefit_discount_fen = serializers.IntegerField()
    benefit_sources = serializers.DictField(child=serializers.CharField())
    points_multiplier = serializers.CharField(
        help_text="积分倍数，精确分数（如 '3/2'）：订单完成时按此倍数发放消费积分。"
    )
    coupon_ids = serializers.ListField(child=serializers.IntegerField())
    coupon_discount_fen = serializers.IntegerField()
    shipping_discount_fen = serializers.IntegerField()
    points = serializers.IntegerField()
    points_fen = serializers.IntegerField()
    stored_value_fen = serializers.IntegerField()
    shipping_stored_value_fen = serializers.IntegerField()
    shipping_cash_fen = serializers.IntegerField()
    cash_fen = serializers.IntegerField(help_text="需另付的现金（商户收取），单位分。")
    points_estimate = serializers.IntegerField(help_text="订单完成后预计获得的消费积分（未计入上限）。")
    points_balance = serializers.IntegerField()
    points_max = serializers.IntegerField(help_text="本单最多可用的积分。")
    stored_value_balance_fen = serializers.IntegerField()
    coupon_evaluations = CouponEvaluationSerializer(many=True)
    fingerprint = serializers.CharField(help_text="报价指纹，下单时作为 quote_hash 传入。")


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = [
            "line_no",
            "sku",
            "category",
            "name",
            "unit_price_fen",
            "quantity",
            "amount_fen",
            "benefit_discount_fen",
            "coupon_discount_fen",
            "points",
            "points_fen",
            "stored_value_fen",
            "cash_fen",
            "refunded_quantity",
        ]


class RefundLineSerializer(serializers.ModelSerializer):
    line_no = serializers.IntegerField(source="line.line_no")

    class Meta:
        model = RefundLine
        fields = ["line_no", "quantity", "points", "points_fen", "stored_value_fen", "cash_fen"]


class RefundSerializer(serializers.ModelSerializer):
    lines = RefundLineSerializer(many=True)

    class Meta:
        model = Refund
        fields = [
            "refund_no",
            "goods_fen",
            "shipping_fen",
            "points",
            "points_fen",
            "stored_value_fen",
            "cash_fen",
            "earned_points_reversed",
            "coupons_restored",
            "account_closed",
            "stored_value_paid_out_fen",
            "lines",
            "created_at",
        ]


class OrderEventSerializer(serializers.ModelSerializer):
    # Codes, as before the admin gave the column its labels (the API's contract is the code).
    kind = serializers.CharField(label=_("event"), max_length=16)
    from_status = serializers.CharField(label=_("from"), max_length=20, allow_blank=True, required=False)
    to_status = serializers.CharField(label=_("to"), max_length=20)

    class Meta:
        model = OrderEvent
        fields = ["kind", "from_status", "to_status", "reference", "created_at"]


class OrderSerializer(serializers.ModelSerializer):
    lines = OrderLineSerializer(many=True)

    class Meta:
        model = Order
        fields = [
            "order_no",
            "member_id",
            "status",
            "goods_fen",
            "shipping_fen",
            "benefit_discount_fen",
            "coupon_discount_fen",
            "shipping_discount_fen",
            "points_used",
            "points_fen",
            "stored_value_fen",
            "cash_fen",
            "coupon_ids",
            "earned_points",
            "refunded_stored_value_fen",
            "refunded_cash_fen",
            "refunded_points",
            "committed_at",
            "expires_at",
            "completed_at",
            "cancelled_at",
            "lines",
        ]


class OrderDetailSerializer(OrderSerializer):
    refunds = RefundSerializer(many=True)
    events = OrderEventSerializer(many=True)

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "refunds", "events"]


class CommitResultSerializer(OrderSerializer):
    replayed = serializers.SerializerMethodField()

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "replayed"]

    def get_replayed(self, order) -> bool:
        return self.context.get("replayed", False)


_LINE_FIELDS = OrderLineSerializer.Meta.fields
_ORDER_FIELDS = [f for f in OrderSerializer.Meta.fields if f != "lines"]
_DATETIME = serializers.DateTimeField()


def _order_response(result, created_status=200):
    """The order as the service left it, with its lines (one query); history is at GET …/orders/{order_no}.

    Built by hand in the shape of ``CommitResultSerializer`` (which documents it): these answers are the
    hot path of checkout, where building a ModelSerializer's fields is a large share of the request's CPU
    (bench/README.md).
    """
    order = result.order
    data = {}
    for name in _ORDER_FIELDS:
        value = getattr(order, name)
        data[name] = _DATETIME.to_representation(value) if name.endswith("_at") and value else value
    if result.lines is not None:  # a new commit: just written
        data["lines"] = [{name: getattr(line, name) for name in _LINE_FIELDS} for line in result.lines]
    else:
        data["lines"] = rows.line_values(order.pk, _LINE_FIELDS)
    data["replayed"] = result.replayed
    return Response(data, status=200 if result.replayed else created_status)


# --- the mini-program --------------------------------------------------------------------


class MemberQuoteView(APIView):
    """Price my basket: member discount, coupons, points deduction, stored value, cash. Writes nothing."""

    @api_docs.member_quote
    @extend_schema(
        request=BasketSerializer, responses={200: QuoteSerializer, 400: ErrorSerializer, 409: ErrorSerializer}
    )
    def post(self, request):
        data = BasketSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        quote = compute_quote(member_id=request.user.pk, basket=data.basket())
        return Response(quote_as_dict(quote))


class MyOrdersView(ListAPIView):
    serializer_class = OrderSerializer

    @api_docs.my_orders
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.member_orders(member_id=self.request.user.pk)


class MyOrderView(APIView):
    @api_docs.my_order
    @extend_schema(responses={200: OrderDetailSerializer, 404: ErrorSerializer})
    def get(self, request, order_no):
        order = selectors.order_detail(order_no=order_no, member_id=request.user.pk)
        if order is None:
            raise OrderNotFound()
        return Response(OrderDetailSerializer(order).data)


# --- the merchant's order system (HMAC-signed) ---------------------------------------------


class ServerView(APIView):
    authentication_classes = [ServerSignatureAuthentication]
    permission_classes = [IsApiClient]


class ServerQuoteView(ServerView):
    @api_docs.server_quote
    @extend_schema(
        request=ServerQuoteInput,
        responses={
            200: QuoteSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request):
        data = ServerQuoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        quote = compute_quote(member_id=data.validated_data["member_id"], basket=data.basket())
        return Response(quote_as_dict(quote))  # the shape of QuoteSerializer (a dataclass, by hand: hot path)


class ServerCommitView(ServerView):
    @api_docs.server_commit
    @extend_schema(
        request=CommitInput,
        responses={
            201: CommitResultSerializer,
            200: CommitResultSerializer,
            202: CounterPaymentPendingSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request):
        data = CommitInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        result = services.order_commit(
            member_id=v.get("member_id"),
            member_code=v["member_code"],
            store_code=v["store_code"],
            staff_code=v["staff_code"],
            order_no=v["order_no"],
            basket=data.basket(),
            quote_hash=v["quote_hash"],
        )
        if isinstance(result, counter_payments.Pending):
            return _pending_response(result)
        return _order_response(result, created_status=201)


class ServerOrderView(ServerView):
    @api_docs.server_order
    @extend_schema(responses={200: OrderDetailSerializer, 401: ErrorSerializer, 404: ErrorSerializer})
    def get(self, request, order_no):
        order = selectors.order_detail(order_no=order_no)
        if order is None:
            raise OrderNotFound()
        return Response(OrderDetailSerializer(order).data)


class CancelInput(StrictSerializer):
    reason = serializers.CharField(
        max_length=64, required=False, default="", allow_blank=True, help_text="取消原因（可选）。"
    )


class ServerCancelView(ServerView):
    @api_docs.server_cancel
    @extend_schema(
        request=CancelInput,
        responses={
            200: CommitResultSerializer,
            401: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request, order_no):
        data = CancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _order_response(services.order_cancel(order_no=order_no, reason=data.validated_data["reason"]))


class ServerCompleteView(NoInputMixin, ServerView):
    @api_docs.server_complete
    @extend_schema(
        request=None,
        responses={
            200: CommitResultSerializer,
            401: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request, order_no):
        return _order_response(services.order_complete(order_no=order_no))


class RefundLineInput(StrictSerializer):
    line_no = serializers.IntegerField(min_value=1, max_value=MAX_LINES, help_text="订单行号。")
    quantity = serializers.IntegerField(min_value=1, max_value=10**6, help_text="退货件数。")


class RefundInput(StrictSerializer):
    refund_no = serializers.CharField(max_length=64, help_text="商户退款单号，退款的幂等键。")
    lines = RefundLineInput(
        many=True,
        required=False,
        allow_empty=False,
        max_length=MAX_LINES,
        help_text="要退的行与件数；不传则退掉剩余的全部。",
    )


class RefundResultSerializer(RefundSerializer):
    replayed = serializers.SerializerMethodField()
    order_status = serializers.CharField(source="order.status")

    class Meta(RefundSerializer.Meta):
        fields = [*RefundSerializer.Meta.fields, "order_status", "replayed"]

    def get_replayed(self, refund) -> bool:
        return self.context.get("replayed", False)


class ServerRefundView(ServerView):
    @api_docs.server_refund
    @extend_schema(
        request=RefundInput,
        responses={
            201: RefundResultSerializer,
            200: RefundResultSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request, order_no):
        data = RefundInput(data=request.data)
        data.is_valid(raise_exception=True)
        lines = data.validated_data.get("lines")
        result = services.order_refund(
            order_no=order_no,
            refund_no=data.validated_data["refund_no"],
            lines=None if lines is None else [(line["line_no"], line["quantity"]) for line in lines],
        )
        refund = (
            Refund.objects.select_related("order").prefetch_related("lines__line").get(pk=result.refund.pk)
        )
        return Response(
            RefundResultSerializer(refund, context={"replayed": result.replayed}).data,
            status=200 if result.replayed else 201,
        )


# --- the member's confirmation of a stored-value payment at a counter ---------------------------


class CounterPaymentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    order_no = serializers.CharField()
    store_name = serializers.CharField(source="store.name")
    stored_value_fen = serializers.IntegerField()
    goods_fen = serializers.IntegerField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class PendingCounterPaymentsView(APIView):
    @api_docs.counter_payments_pending
    @extend_schema(responses={200: CounterPaymentSerializer(many=True)})
    def get(self, request):
        pending = counter_payments.pending_for_member(member_id=request.user.pk)[:10]
        return Response(
            CounterPaymentSerializer(pending, many=True).data, headers={"Cache-Control": "no-store"}
        )


class ConfirmCounterPaymentView(NoInputMixin, APIView):
    @api_docs.counter_payment_confirm
    @extend_schema(
        request=None, responses={200: CounterPaymentSerializer, 404: ErrorSerializer, 409: ErrorSerializer}
    )
    def post(self, request, pk):
        payment = counter_payments.counter_payment_confirm(member_id=request.user.pk, payment_id=pk)
        return Response(CounterPaymentSerializer(payment).data)


class DeclineCounterPaymentView(NoInputMixin, APIView):
    @api_docs.counter_payment_decline
    @extend_schema(
        request=None, responses={200: CounterPaymentSerializer, 404: ErrorSerializer, 409: ErrorSerializer}
    )
    def post(self, request, pk):
        payment = counter_payments.counter_payment_decline(member_id=request.user.pk, payment_id=pk)
        return Response(CounterPaymentSerializer(payment).data)
