"""Member-facing API of the membership programme: tier, cards, benefits, member days."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
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
from membership import selectors
from membership.benefits import member_benefits
from membership.cards import card_claim, card_purchase_create, card_trial, member_card_rows
from membership.exceptions import CardPurchaseNotFound
from membership.member_days import member_days_schedule
from membership.models import CardPurchase, PurchaseStatus, TierChange
from payments import services as payments
from payments.api import with_payment_params
from payments.exceptions import PaymentUnavailable

# --- membership: tier, cards, benefits, member days ------------------------------------------


class TierSerializer(serializers.Serializer):
    level = serializers.IntegerField()
    name = serializers.CharField()
    growth_threshold = serializers.IntegerField()
    discount_bp = serializers.IntegerField(help_text="Basis points off (500 = 5% off).")
    points_multiplier = serializers.DecimalField(max_digits=5, decimal_places=2)
    free_shipping = serializers.BooleanField()


class TierProgressSerializer(serializers.Serializer):
    tier = TierSerializer(allow_null=True)
    window_growth = serializers.IntegerField(help_text="Growth value counted in the rolling window.")
    window_months = serializers.IntegerField()
    growth_total = serializers.IntegerField(help_text="Lifetime growth value.")
    paid_total_fen = serializers.IntegerField(help_text="Cumulative paid spend, net of refunds.")
    completed_orders = serializers.IntegerField()
    protected_until = serializers.DateTimeField(allow_null=True, help_text="No downgrade before this time.")
    next_tier = TierSerializer(allow_null=True)
    growth_needed = serializers.IntegerField(
        help_text="Growth value still needed for the next tier (0 at the top)."
    )
    tiers = TierSerializer(many=True)


class MyTierView(APIView):
    @extend_schema(
        responses=TierProgressSerializer, tags=["membership"], summary="My tier and progress to the next"
    )
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

    @extend_schema(tags=["membership"], summary="My tier changes, newest first")
    def get(self, request, *args, **kwargs):
        PageQuery(data=request.query_params.dict()).is_valid(raise_exception=True)
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return TierChange.objects.filter(member_id=self.request.user.pk)


class CardTypeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField(help_text="free | conditional | paid")
    description = serializers.CharField()
    validity = serializers.CharField(help_text="permanent | days | range")
    valid_days = serializers.IntegerField()
    valid_from = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)
    condition = serializers.CharField(help_text="paid_spend | orders | points (conditional cards)")
    condition_threshold = serializers.IntegerField()
    period = serializers.CharField(help_text="month | quarter | year (paid cards)")
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
    valid_until = serializers.DateTimeField(allow_null=True, help_text="Empty: permanent.")
    is_valid = serializers.SerializerMethodField()
    channel = serializers.CharField()

    def get_is_valid(self, card) -> bool:
        return card.is_valid_at(timezone.now())


class MyCardsView(APIView):
    @extend_schema(responses=CardSerializer(many=True), tags=["membership"], summary="My membership cards")
    def get(self, request):
        return Response(CardSerializer(member_card_rows(member_id=request.user.pk), many=True).data)


class CardOfferSerializer(serializers.Serializer):
    card_type = CardTypeSerializer()
    held = serializers.BooleanField()
    can_claim = serializers.BooleanField()
    can_buy = serializers.BooleanField()
    can_try = serializers.BooleanField(help_text="A free trial is available to me.")
    progress = serializers.IntegerField(
        allow_null=True, help_text="Conditional cards: my progress to the threshold."
    )


class CardOffersView(APIView):
    @extend_schema(
        responses=CardOfferSerializer(many=True),
        tags=["membership"],
        summary="Cards I can claim, try or buy now",
    )
    def get(self, request):
        return Response(CardOfferSerializer(selectors.card_offers(member_id=request.user.pk), many=True).data)


class CardClaimInput(StrictSerializer):
    card_type_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    channel = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)
    staff = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)


_CARD_WRITE_RESPONSES = {
    201: CardSerializer,
    400: ErrorSerializer,
    404: ErrorSerializer,
    409: ErrorSerializer,
}
_IDEMPOTENCY = [OpenApiParameter("Idempotency-Key", location="header", required=True)]


class CardClaimView(APIView):
    @extend_schema(
        request=CardClaimInput,
        responses=_CARD_WRITE_RESPONSES,
        parameters=_IDEMPOTENCY,
        tags=["membership"],
        summary="Claim a free card (or a conditional one I qualify for); channel/staff come from the link or QR",
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
    @extend_schema(
        request=CardTrialInput,
        responses=_CARD_WRITE_RESPONSES,
        parameters=_IDEMPOTENCY,
        tags=["membership"],
        summary="Start the free trial of a paid card (once per member)",
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
    status = serializers.CharField(help_text="created | paid | closed | refunded")
    out_trade_no = serializers.CharField()
    period_start = serializers.DateTimeField(allow_null=True)
    period_end = serializers.DateTimeField(allow_null=True)
    refunded_fen = serializers.IntegerField()
    created_at = serializers.DateTimeField()


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
    @extend_schema(
        request=CardPurchaseInput,
        responses={
            201: CardPurchaseCreatedSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            503: ErrorSerializer,
        },
        parameters=_IDEMPOTENCY,
        tags=["membership"],
        summary="Buy or renew a paid card: returns the purchase and the wx.requestPayment parameters",
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
    @extend_schema(responses={200: CardPurchaseSerializer, 404: ErrorSerializer}, tags=["membership"])
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
    discount_bp = serializers.IntegerField(help_text="Basis points off the price now (500 = 5% off).")
    free_shipping = serializers.BooleanField()
    points_multiplier = serializers.CharField(help_text="Exact fraction, e.g. '3' or '3/2'.")
    sources = serializers.DictField(child=serializers.CharField())


class MyBenefitsView(APIView):
    @extend_schema(responses=BenefitsSerializer, tags=["membership"], summary="What I get right now")
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
    ends_at = serializers.DateTimeField(help_text="For the countdown.")


class MemberDaysSerializer(serializers.Serializer):
    active = MemberDayOccurrenceSerializer(many=True)
    upcoming = MemberDayOccurrenceSerializer(many=True)


class MemberDaysView(APIView):
    @extend_schema(
        responses=MemberDaysSerializer, tags=["membership"], summary="Member days on now and coming up"
    )
    def get(self, request):
        active, upcoming = member_days_schedule(now=timezone.now())
        return Response(MemberDaysSerializer({"active": active, "upcoming": upcoming}).data)
