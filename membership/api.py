"""Member-facing API of the membership programme: tier, cards, benefits, member days."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api.idempotency import idempotent
from loyalty.api.pagination import HistoryCursorPagination, PageQuery
from loyalty.api.serializers import (
    MAX_ID,
    ErrorSerializer,
    StrictSerializer,
)
from membership import api_docs, selectors
from membership.benefits import member_benefits
from membership.cards import card_claim, card_purchase_create, card_trial, member_card_rows
from membership.exceptions import CardPurchaseNotFound
from membership.member_days import member_days_schedule
from membership.models import CardPurchase, PurchaseStatus, TierChange
from payments import services as payments
from payments.api import with_payment_params
from payments.exceptions import PaymentUnavailable
from stores.fields import store_code_field

# --- membership: tier, cards, benefits, member days ------------------------------------------


class TierSerializer(serializers.Serializer):
    level = serializers.IntegerField()
    name = serializers.CharField()
    growth_threshold = serializers.IntegerField()
    discount_bp = serializers.IntegerField(help_text="折扣基点（500 即减 5%，95 折）。")
    points_multiplier = serializers.DecimalField(max_digits=5, decimal_places=2)
    free_shipping = serializers.BooleanField()


class TierProgressSerializer(serializers.Serializer):
    tier = TierSerializer(allow_null=True)
    window_growth = serializers.IntegerField(help_text="滚动窗口内的成长值。")
    window_months = serializers.IntegerField()
    growth_total = serializers.IntegerField(help_text="累计成长值。")
    paid_total_fen = serializers.IntegerField(help_text="累计实付（已扣除退款），单位分。")
    completed_orders = serializers.IntegerField()
    protected_until = serializers.DateTimeField(allow_null=True, help_text="此时间之前不会降级。")
    next_tier = TierSerializer(allow_null=True)
    growth_needed = serializers.IntegerField(help_text="升到下一等级还差的成长值（已是最高级为 0）。")
    tiers = TierSerializer(many=True)


class MyTierView(APIView):
    @api_docs.tier
    @extend_schema(responses=TierProgressSerializer)
    def get(self, request):
        return Response(TierProgressSerializer(selectors.tier_progress(member_id=request.user.pk)).data)


class TierChangeSerializer(serializers.Serializer):
    from_level = serializers.IntegerField()
    to_level = serializers.IntegerField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class MyTierHistoryView(ListAPIView):
    serializer_class = TierChangeSerializer
    pagination_class = HistoryCursorPagination

    @api_docs.tier_history
    def get(self, request, *args, **kwargs):
        PageQuery(data=request.query_params.dict()).is_valid(raise_exception=True)
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return TierChange.objects.filter(member_id=self.request.user.pk)


class CardTypeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField(help_text="free 免费 | conditional 条件卡 | paid 付费卡")
    description = serializers.CharField()
    validity = serializers.CharField(help_text="permanent 永久 | days 领取后若干天 | range 固定时段")
    valid_days = serializers.IntegerField()
    valid_from = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)
    condition = serializers.CharField(
        help_text="条件卡的条件：paid_spend 累计实付 | orders 订单数 | points 积分"
    )
    condition_threshold = serializers.IntegerField()
    period = serializers.CharField(help_text="付费卡的周期：month 月 | quarter 季 | year 年")
    price_fen = serializers.IntegerField()
    trial_days = serializers.IntegerField()
    discount_bp = serializers.IntegerField()
    free_shipping = serializers.BooleanField()
    points_multiplier = serializers.DecimalField(max_digits=5, decimal_places=2)
    background_image = serializers.CharField()
    colour = serializers.CharField()
    logo_url = serializers.CharField()


class CardSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    card_type = CardTypeSerializer()
    status = serializers.CharField()
    source = serializers.CharField()
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField(allow_null=True, help_text="为空表示永久有效。")
    is_valid = serializers.SerializerMethodField()
    channel = serializers.CharField()

    def get_is_valid(self, card) -> bool:
        return card.is_valid_at(timezone.now())


class MyCardsView(APIView):
    @api_docs.cards
    @extend_schema(responses=CardSerializer(many=True))
    def get(self, request):
        return Response(CardSerializer(member_card_rows(member_id=request.user.pk), many=True).data)


class CardOfferSerializer(serializers.Serializer):
    card_type = CardTypeSerializer()
    held = serializers.BooleanField()
    can_claim = serializers.BooleanField()
    can_buy = serializers.BooleanField()
    can_try = serializers.BooleanField(help_text="我可以免费试用。")
    progress = serializers.IntegerField(allow_null=True, help_text="条件卡：我当前的进度（与门槛同单位）。")


class CardOffersView(APIView):
    @api_docs.card_offers
    @extend_schema(responses=CardOfferSerializer(many=True))
    def get(self, request):
        return Response(CardOfferSerializer(selectors.card_offers(member_id=request.user.pk), many=True).data)


class CardClaimInput(StrictSerializer):
    card_type_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    channel = serializers.CharField(
        max_length=64,
        required=False,
        default="",
        allow_blank=True,
        help_text="领卡渠道（取自链接或二维码）。",
    )
    staff = serializers.CharField(
        max_length=64,
        required=False,
        default="",
        allow_blank=True,
        help_text="推荐店员（取自链接或二维码）：店员工号；工号对应在职店员时计入其业绩。",
    )
    store_code = store_code_field("门店编码（取自门店二维码）：记为领卡门店；未知或已闭店的门店不记录。")


_CARD_WRITE_RESPONSES = {
    201: CardSerializer,
    400: ErrorSerializer,
    404: ErrorSerializer,
    409: ErrorSerializer,
}


class CardClaimView(APIView):
    @api_docs.card_claim
    @extend_schema(
        request=CardClaimInput,
        responses=_CARD_WRITE_RESPONSES,
    )
    @idempotent
    def post(self, request):
        data = CardClaimInput(data=request.data)
        data.is_valid(raise_exception=True)
        card = card_claim(member_id=request.user.pk, **data.validated_data)
        return Response(CardSerializer(card).data, status=status.HTTP_201_CREATED)


class CardTrialInput(StrictSerializer):
    card_type_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class CardTrialView(APIView):
    @api_docs.card_trial
    @extend_schema(
        request=CardTrialInput,
        responses=_CARD_WRITE_RESPONSES,
    )
    @idempotent
    def post(self, request):
        data = CardTrialInput(data=request.data)
        data.is_valid(raise_exception=True)
        card = card_trial(member_id=request.user.pk, **data.validated_data)
        return Response(CardSerializer(card).data, status=status.HTTP_201_CREATED)


class CardPurchaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    card_type_id = serializers.IntegerField()
    card_id = serializers.IntegerField(allow_null=True)
    period = serializers.CharField()
    amount_fen = serializers.IntegerField()
    status = serializers.CharField(help_text="created 待支付 | paid 已支付 | closed 已关闭 | refunded 已退款")
    out_trade_no = serializers.CharField()
    period_start = serializers.DateTimeField(allow_null=True)
    period_end = serializers.DateTimeField(allow_null=True)
    refunded_fen = serializers.IntegerField()
    created_at = serializers.DateTimeField()


@extend_schema_serializer(description="微信支付参数：原样传给 wx.requestPayment。")
class CardPaymentParamsSerializer(serializers.Serializer):
    appId = serializers.CharField()  # noqa: N815 - wx.requestPayment's own names
    timeStamp = serializers.CharField()  # noqa: N815
    nonceStr = serializers.CharField()  # noqa: N815
    package = serializers.CharField()
    signType = serializers.CharField()  # noqa: N815
    paySign = serializers.CharField()  # noqa: N815


class CardPurchaseCreatedSerializer(serializers.Serializer):
    purchase = CardPurchaseSerializer()
    payment = CardPaymentParamsSerializer()


class CardPurchaseInput(StrictSerializer):
    card_type_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class CardPurchasesView(APIView):
    @api_docs.card_purchase
    @extend_schema(
        request=CardPurchaseInput,
        responses={
            201: CardPurchaseCreatedSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            503: ErrorSerializer,
        },
    )
    @idempotent(after_commit=with_payment_params("purchase"))
    def post(self, request):
        data = CardPurchaseInput(data=request.data)
        data.is_valid(raise_exception=True)
        purchase = card_purchase_create(member=request.user, **data.validated_data)
        return Response(
            # "payment" is filled in after commit, outside the transaction holding the membership row.
            {"purchase": CardPurchaseSerializer(purchase).data, "payment": None},
            status=status.HTTP_201_CREATED,
        )


class CardPurchaseDetailView(APIView):
    @api_docs.card_purchase_detail
    @extend_schema(responses={200: CardPurchaseSerializer, 404: ErrorSerializer})
    def get(self, request, pk):
        """One of my card purchases; one still awaiting payment is checked with the provider first."""
        purchase = CardPurchase.objects.filter(member_id=request.user.pk, pk=pk).first()
        if purchase is None:
            raise CardPurchaseNotFound()
        if purchase.status == PurchaseStatus.CREATED and purchase.out_trade_no:
            try:
                payments.payment_query(payment=payments.payment_get(out_trade_no=purchase.out_trade_no))
            except PaymentUnavailable:
                pass  # answer with what we know; the notification will still come
            purchase.refresh_from_db()
        return Response(CardPurchaseSerializer(purchase).data)


class BenefitsSerializer(serializers.Serializer):
    discount_bp = serializers.IntegerField(help_text="此刻的折扣基点（500 即减 5%）。")
    free_shipping = serializers.BooleanField()
    points_multiplier = serializers.CharField(help_text="积分倍数，精确分数，如 '3' 或 '3/2'。")
    sources = serializers.DictField(child=serializers.CharField())


class MyBenefitsView(APIView):
    @api_docs.benefits
    @extend_schema(responses=BenefitsSerializer)
    def get(self, request):
        b = member_benefits(member_id=request.user.pk, at=timezone.now())
        return Response(
            BenefitsSerializer(
                {
                    "discount_bp": b.discount_bp,
                    "free_shipping": b.free_shipping,
                    "points_multiplier": str(b.points_multiplier),
                    "sources": b.sources,
                }
            ).data
        )


class MemberDayOccurrenceSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="member_day.pk")
    name = serializers.CharField(source="member_day.name")
    points_multiplier = serializers.DecimalField(
        source="member_day.points_multiplier", max_digits=5, decimal_places=2
    )
    extra_discount_bp = serializers.IntegerField(source="member_day.extra_discount_bp")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(help_text="结束时间，用于倒计时。")


class MemberDaysSerializer(serializers.Serializer):
    active = MemberDayOccurrenceSerializer(many=True)
    upcoming = MemberDayOccurrenceSerializer(many=True)


class MemberDaysView(APIView):
    @api_docs.member_days
    @extend_schema(responses=MemberDaysSerializer)
    def get(self, request):
        active, upcoming = member_days_schedule(now=timezone.now())
        return Response(MemberDaysSerializer({"active": active, "upcoming": upcoming}).data)
