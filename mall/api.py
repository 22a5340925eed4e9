"""The points mall for members: catalogue, item, redeem, my redemptions, confirm receipt, cancel, addresses."""

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api import docs
from loyalty.api.idempotency import idempotent
from loyalty.api.pagination import PageQuery
from loyalty.api.serializers import (
    MAX_ID,
    ErrorSerializer,
    StrictModelSerializer,
    StrictQuerySerializer,
    StrictSerializer,
)
from loyalty.api.views import NoInputMixin
from mall import api_docs, selectors, services
from mall.exceptions import AddressNotFound, ItemNotFound, RedemptionNotFound
from mall.models import LimitPeriod, Redemption, RedemptionStatus, ShippingAddress, mask_code
from payments.api import PaymentParamsSerializer, with_payment_params


class CategorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CategoriesView(APIView):
    @api_docs.categories
    @extend_schema(responses=CategorySerializer(many=True))
    def get(self, request):
        return Response(CategorySerializer(selectors.categories(), many=True).data)


class ItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="item.id")
    name = serializers.CharField(source="item.name")
    kind = serializers.CharField(source="item.kind")
    category_id = serializers.IntegerField(source="item.category_id", allow_null=True)
    image_url = serializers.CharField(source="item.image_url")
    points = serializers.IntegerField(source="item.points")
    cash_fen = serializers.IntegerField(
        source="item.cash_fen", help_text="大于 0 表示积分+现金，需另付的现金（分）。"
    )
    stock = serializers.IntegerField(source="item.stock")
    on_sale_until = serializers.DateTimeField(source="item.on_sale_until", allow_null=True)
    unlocked = serializers.BooleanField(help_text="我的等级与会员卡满足兑换门槛。")
    affordable = serializers.BooleanField(help_text="我的可用积分足够兑换。")


class ItemDetailSerializer(ItemSerializer):
    description = serializers.CharField(source="item.description")
    extra_images = serializers.ListField(source="item.extra_images", child=serializers.CharField())
    per_member_limit = serializers.IntegerField(source="item.per_member_limit", allow_null=True)
    period = serializers.ChoiceField(source="item.period", choices=LimitPeriod.choices, allow_blank=True)
    per_period_limit = serializers.IntegerField(source="item.per_period_limit", allow_null=True)
    min_tier_level = serializers.IntegerField(source="item.min_tier_level")
    required_card_type_ids = serializers.ListField(
        source="item.required_card_type_ids", child=serializers.IntegerField()
    )
    on_sale_from = serializers.DateTimeField(source="item.on_sale_from", allow_null=True)
    coupon = serializers.SerializerMethodField(help_text="优惠券商品：券的面额文案。")

    def get_coupon(self, row) -> str | None:
        template = row["item"].coupon_template
        return template.face() if template else None


class CatalogueQuery(StrictQuerySerializer):
    category = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text="分类 id。")
    affordable = serializers.BooleanField(required=False, default=False, help_text="只看我的积分够兑换的。")
    unlocked = serializers.BooleanField(required=False, default=False, help_text="只看我已解锁的。")


class ItemsView(APIView):
    @api_docs.items
    @extend_schema(
        parameters=[CatalogueQuery], responses={200: ItemSerializer(many=True), 400: ErrorSerializer}
    )
    def get(self, request):
        query = CatalogueQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        rows = selectors.catalogue(
            member_id=request.user.pk,
            category_id=query.validated_data.get("category"),
            affordable=query.validated_data["affordable"],
            unlocked=query.validated_data["unlocked"],
        )
        return Response(ItemSerializer(rows, many=True).data)


class ItemDetailView(APIView):
    @api_docs.item_detail
    @extend_schema(responses={200: ItemDetailSerializer, 404: ErrorSerializer})
    def get(self, request, pk):
        row = selectors.item_for_member(member_id=request.user.pk, item_id=pk)
        if row is None:
            raise ItemNotFound()
        return Response(ItemDetailSerializer(row).data)


def _code(redemption: Redemption) -> str | None:
    try:
        return redemption.virtual_code.code
    except ObjectDoesNotExist:
        return None


class RedemptionSerializer(serializers.ModelSerializer):
    item_name = serializers.CharField(source="item.name")
    code = serializers.SerializerMethodField(help_text="虚拟卡密：列表中打码，详情中完整给出。")

    class Meta:
        model = Redemption
        fields = [
            "id",
            "no",
            "item_id",
            "item_name",
            "kind",
            "points",
            "cash_fen",
            "status",
            "out_trade_no",
            "coupon_id",
            "code",
            "recipient",
            "phone",
            "address",
            "carrier",
            "tracking_no",
            "pickup_code",
            "created_at",
            "paid_at",
            "fulfilled_at",
            "shipped_at",
            "completed_at",
            "cancelled_at",
            "cancel_reason",
        ]

    def get_code(self, redemption) -> str | None:
        code = _code(redemption) if redemption.status == RedemptionStatus.FULFILLED else None
        return mask_code(code) if code else None


class RedemptionDetailSerializer(RedemptionSerializer):
    def get_code(self, redemption) -> str | None:
        # Only the redeemer reaches this serializer (the views look redemptions up by member), and only
        # once fulfilled: a code reserved for a payment still pending is not given yet.
        return _code(redemption) if redemption.status == RedemptionStatus.FULFILLED else None


class MallRedeemInput(StrictSerializer):
    item_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    address_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="收货地址 id，兑换实物时必填。"
    )


class RedeemedSerializer(serializers.Serializer):
    redemption = RedemptionDetailSerializer()
    payment = PaymentParamsSerializer(
        allow_null=True, help_text="积分+现金时的支付参数，原样传给 wx.requestPayment；否则为 null。"
    )


class RedemptionFilter(PageQuery):
    status = serializers.ChoiceField(choices=RedemptionStatus.choices, required=False)


class RedemptionsView(ListAPIView):
    serializer_class = RedemptionSerializer

    @api_docs.redemptions
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "status", enum=RedemptionStatus.values, required=False, description="按状态过滤。"
            )
        ],
        responses={200: RedemptionSerializer(many=True), 400: ErrorSerializer},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = RedemptionFilter(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        return selectors.member_redemptions(
            member_id=self.request.user.pk, status=query.validated_data.get("status")
        )

    @api_docs.redeem
    @extend_schema(
        request=MallRedeemInput,
        responses={
            201: RedeemedSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            503: ErrorSerializer,
        },
    )
    @idempotent(after_commit=with_payment_params("redemption"))
    def post(self, request):
        data = MallRedeemInput(data=request.data)
        data.is_valid(raise_exception=True)
        redeemed = services.redemption_create(
            member=request.user,
            item_id=data.validated_data["item_id"],
            address_id=data.validated_data.get("address_id"),
            idempotency_key=request.headers["Idempotency-Key"],
        )
        redemption = selectors.member_redemptions(member_id=request.user.pk).get(pk=redeemed.redemption.pk)
        return Response(
            # "payment" is filled in after commit, outside the transaction holding the item's row.
            {"redemption": RedemptionDetailSerializer(redemption).data, "payment": None},
            status=201,
        )


def _mine(request, pk) -> Redemption:
    redemption = selectors.member_redemptions(member_id=request.user.pk).filter(pk=pk).first()
    if redemption is None:
        raise RedemptionNotFound()
    return redemption


class RedemptionDetailView(APIView):
    @api_docs.redemption_detail
    @extend_schema(responses={200: RedemptionDetailSerializer, 404: ErrorSerializer})
    def get(self, request, pk):
        """One of my redemptions, with its virtual code in full once fulfilled."""
        return Response(RedemptionDetailSerializer(_mine(request, pk)).data)


class ConfirmReceiptView(NoInputMixin, APIView):
    @api_docs.confirm_receipt
    @extend_schema(
        request=None, responses={200: RedemptionDetailSerializer, 404: ErrorSerializer, 409: ErrorSerializer}
    )
    def post(self, request, pk):
        services.redemption_confirm_receipt(redemption_id=pk, member_id=request.user.pk)
        return Response(RedemptionDetailSerializer(_mine(request, pk)).data)


class CancelView(NoInputMixin, APIView):
    @api_docs.cancel
    @extend_schema(
        request=None, responses={200: RedemptionDetailSerializer, 404: ErrorSerializer, 409: ErrorSerializer}
    )
    @idempotent
    def post(self, request, pk):
        services.redemption_cancel(redemption_id=pk, member_id=request.user.pk, reason="member")
        return Response(RedemptionDetailSerializer(_mine(request, pk)).data)


class AddressSerializer(StrictModelSerializer):
    class Meta:
        model = ShippingAddress
        fields = [
            "id",
            "recipient",
            "phone",
            "province",
            "city",
            "district",
            "detail",
            "postal_code",
            "is_default",
        ]
        read_only_fields = ["id"]


class AddressesView(APIView):
    @api_docs.addresses
    @extend_schema(responses=AddressSerializer(many=True))
    def get(self, request):
        return Response(
            AddressSerializer(selectors.member_addresses(member_id=request.user.pk), many=True).data
        )

    @api_docs.address_create
    @extend_schema(request=AddressSerializer, responses={201: AddressSerializer, 400: ErrorSerializer})
    def post(self, request):
        data = AddressSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        address = services.address_create(member_id=request.user.pk, **data.validated_data)
        return Response(AddressSerializer(address).data, status=201)


class AddressDetailView(NoInputMixin, APIView):
    no_input_methods = ("DELETE",)  # PATCH takes an AddressSerializer

    def _get(self, request, pk) -> ShippingAddress:
        address = selectors.member_addresses(member_id=request.user.pk).filter(pk=pk).first()
        if address is None:
            raise AddressNotFound()
        return address

    @api_docs.address_detail
    @extend_schema(responses={200: AddressSerializer, 404: ErrorSerializer})
    def get(self, request, pk):
        return Response(AddressSerializer(self._get(request, pk)).data)

    @api_docs.address_update
    @extend_schema(
        request=AddressSerializer,
        responses={200: AddressSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def patch(self, request, pk):
        data = AddressSerializer(self._get(request, pk), data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        address = services.address_update(member_id=request.user.pk, address_id=pk, **data.validated_data)
        return Response(AddressSerializer(address).data)

    @api_docs.address_delete
    @extend_schema(request=None, responses={204: docs.NO_CONTENT, 404: ErrorSerializer})
    def delete(self, request, pk):
        services.address_delete(member_id=request.user.pk, address_id=pk)
        return Response(status=204)
