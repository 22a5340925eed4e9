"""Coupons for members (claim centre, claim, my coupons, detail with QR) and counter redemption."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from coupons import api_docs, selectors, services
from coupons.exceptions import CouponNotFound
from coupons.models import Coupon, CouponStatus, CouponTemplate
from loyalty.api.idempotency import idempotent
from loyalty.api.pagination import PageQuery
from loyalty.api.serializers import MAX_ID, ErrorSerializer, StrictSerializer
from loyalty.api.server_auth import IsApiClient, ServerSignatureAuthentication
from loyalty.api.throttling import ScopedThrottle


class CouponTemplateSerializer(serializers.ModelSerializer):
    face = serializers.CharField(help_text="面额文案，可直接展示，如“满¥100.00减¥20.00”。")

    class Meta:
        model = CouponTemplate
        fields = [
            "id",
            "name",
            "description",
            "face",
            "kind",
            "threshold_fen",
            "amount_off_fen",
            "percent_off",
            "max_discount_fen",
            "gift_sku",
            "validity",
            "valid_from",
            "valid_until",
            "valid_days",
            "scope",
            "scope_values",
            "scope_exclude",
            "stacking",
        ]


class ClaimableSerializer(serializers.Serializer):
    template = CouponTemplateSerializer()
    remaining_stock = serializers.IntegerField(help_text="剩余库存。")
    my_remaining = serializers.IntegerField(help_text="我还能领取的张数。")


class ClaimCentreView(APIView):
    @api_docs.claim_centre
    @extend_schema(responses=ClaimableSerializer(many=True))
    def get(self, request):
        return Response(ClaimableSerializer(selectors.claim_centre(member=request.user), many=True).data)


class CouponSerializer(serializers.ModelSerializer):
    template = CouponTemplateSerializer()

    class Meta:
        model = Coupon
        fields = ["id", "code", "status", "template", "valid_from", "valid_until", "issued_at", "used_at"]


class CouponDetailSerializer(CouponSerializer):
    qr_png = serializers.SerializerMethodField(help_text="券码的二维码（PNG 的 data URL），到店出示核销。")

    class Meta(CouponSerializer.Meta):
        fields = [*CouponSerializer.Meta.fields, "qr_png"]

    def get_qr_png(self, coupon) -> str:
        return selectors.qr_data_url(coupon.code)


class ClaimInput(StrictSerializer):
    template_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class ClaimView(APIView):
    throttle_classes = [ScopedThrottle]
    throttle_scope = "coupon_claim"  # COUPON_CLAIM_THROTTLE_RATE, per member

    @api_docs.claim
    @extend_schema(
        request=ClaimInput,
        responses={
            201: CouponSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
    @idempotent
    def post(self, request):
        data = ClaimInput(data=request.data)
        data.is_valid(raise_exception=True)
        coupon = services.coupon_claim(
            member=request.user,
            template_id=data.validated_data["template_id"],
            idempotency_key=request.headers["Idempotency-Key"],
        )
        return Response(CouponSerializer(coupon).data, status=201)


class CouponFilter(PageQuery):
    status = serializers.ChoiceField(choices=CouponStatus.choices, required=False)


class MyCouponsView(ListAPIView):
    serializer_class = CouponSerializer

    @api_docs.my_coupons
    @extend_schema(
        parameters=[
            OpenApiParameter("status", enum=CouponStatus.values, required=False, description="按状态过滤。")
        ],
        responses={200: CouponSerializer(many=True), 400: ErrorSerializer},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = CouponFilter(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        return selectors.member_coupons(
            member_id=self.request.user.pk, status=query.validated_data.get("status")
        )


class CouponDetailView(APIView):
    @api_docs.coupon_detail
    @extend_schema(responses={200: CouponDetailSerializer, 404: ErrorSerializer})
    def get(self, request, pk):
        coupon = selectors.member_coupons(member_id=request.user.pk).filter(pk=pk).first()
        if coupon is None:
            raise CouponNotFound()
        return Response(CouponDetailSerializer(coupon).data)


class RedeemInput(StrictSerializer):
    code = serializers.CharField(max_length=16, help_text="券码（扫二维码所得或手工输入，不区分大小写）。")
    order_no = serializers.CharField(max_length=64, help_text="收银台的订单号。")


class ServerRedeemView(APIView):
    """For the merchant's till: 核销 a coupon by its code (or scanned QR) for one order, at once."""

    authentication_classes = [ServerSignatureAuthentication]
    permission_classes = [IsApiClient]

    @api_docs.server_redeem
    @extend_schema(
        request=RedeemInput,
        responses={200: CouponSerializer, 401: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    def post(self, request):
        data = RedeemInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(CouponSerializer(services.coupon_redeem_code(**data.validated_data)).data)
