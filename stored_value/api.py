"""Member-facing stored-value API: balance, plans, recharge orders, history."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api.idempotency import idempotent
from loyalty.api.pagination import PageQuery
from loyalty.api.serializers import MAX_ID, ErrorSerializer, StrictSerializer
from payments import services as payments
from payments.api import PaymentParamsSerializer, with_payment_params
from payments.exceptions import PaymentUnavailable
from stored_value import api_docs, recharges, selectors
from stored_value.exceptions import RechargeNotFound
from stored_value.models import MAX_FEN, EntryKind, RechargePlan, RechargeStatus, RechargeTier
from stores.fields import staff_code_field, store_code_field


class StoredValueBalanceSerializer(serializers.Serializer):
    principal_fen = serializers.IntegerField(help_text="本金：实付充值的剩余（可由商家退款），单位分。")
    bonus_fen = serializers.IntegerField(help_text="赠送金：充值赠送的剩余（只能消费，不退），单位分。")
    balance_fen = serializers.IntegerField(help_text="余额 = principal_fen + bonus_fen，单位分。")
    frozen = serializers.BooleanField(help_text="账户已冻结：不能消费或充值。")


class BalanceView(APIView):
    @api_docs.balance
    @extend_schema(responses=StoredValueBalanceSerializer)
    def get(self, request):
        return Response(
            StoredValueBalanceSerializer(selectors.stored_value_balance(member_id=request.user.pk)).data
        )


class RechargeTierSerializer(serializers.ModelSerializer):
    class Meta:
        model = RechargeTier
        fields = ["pay_fen", "bonus_fen"]


class RechargePlanSerializer(serializers.ModelSerializer):
    tiers = RechargeTierSerializer(many=True, read_only=True)

    class Meta:
        model = RechargePlan
        fields = [
            "id",
            "name",
            "kind",
            "min_fen",
            "max_fen",
            "tiers",
            "ratio_pay",
            "ratio_bonus",
            "gift_points",
            "first_recharge_only",
            "ends_at",
        ]


class PlansView(APIView):
    """The recharge plans this member can use now."""

    @api_docs.plans
    @extend_schema(responses=RechargePlanSerializer(many=True))
    def get(self, request):
        plans = recharges.plans_available(member_id=request.user.pk)
        return Response(RechargePlanSerializer(plans, many=True).data)


class RechargeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    plan_id = serializers.IntegerField()
    plan_name = serializers.CharField(source="plan.name")
    amount_fen = serializers.IntegerField()
    bonus_fen = serializers.IntegerField()
    gift_points = serializers.IntegerField()
    status = serializers.ChoiceField(choices=RechargeStatus.choices)
    out_trade_no = serializers.CharField()
    created_at = serializers.DateTimeField()
    credited_at = serializers.DateTimeField(allow_null=True)


class RechargeInput(StrictSerializer):
    plan_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    amount_fen = serializers.IntegerField(min_value=1, max_value=MAX_FEN, help_text="实付金额，整数分。")
    store_code = store_code_field()
    staff_code = staff_code_field()


class RechargeCreatedSerializer(serializers.Serializer):
    recharge = RechargeSerializer()
    payment = PaymentParamsSerializer()


class RechargesView(ListAPIView):
    serializer_class = RechargeSerializer

    @api_docs.recharges
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.recharge_orders(member_id=self.request.user.pk)

    @api_docs.recharge_create
    @extend_schema(
        request=RechargeInput,
        responses={
            201: RechargeCreatedSerializer,
            400: ErrorSerializer,
            409: ErrorSerializer,
            503: ErrorSerializer,
        },
    )
    @idempotent(after_commit=with_payment_params("recharge"))
    def post(self, request):
        data = RechargeInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = recharges.recharge_create(member=request.user, **data.validated_data)
        # "payment" is filled in after commit, outside the transaction holding the member's recharge lock.
        return Response({"recharge": RechargeSerializer(order).data, "payment": None}, status=201)


class RechargeDetailView(APIView):
    @api_docs.recharge_detail
    @extend_schema(responses={200: RechargeSerializer, 404: ErrorSerializer})
    def get(self, request, pk):
        """One of my recharges; one still awaiting payment is checked with the provider first."""
        order = selectors.recharge_orders(member_id=request.user.pk).filter(pk=pk).first()
        if order is None:
            raise RechargeNotFound()
        if order.status == RechargeStatus.CREATED and order.out_trade_no:
            try:
                payments.payment_query(payment=payments.payment_get(out_trade_no=order.out_trade_no))
            except PaymentUnavailable:
                pass  # WeChat unreachable: answer with what we know; the notification will still come
            order.refresh_from_db()
        return Response(RechargeSerializer(order).data)


class StoredValueEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=EntryKind.choices)
    amount_fen = serializers.IntegerField()
    principal_fen = serializers.IntegerField()
    bonus_fen = serializers.IntegerField()
    balance_after_fen = serializers.SerializerMethodField()
    reference = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_balance_after_fen(self, entry) -> int:
        return entry.principal_after_fen + entry.bonus_after_fen


class EntryFilter(PageQuery):
    kind = serializers.ChoiceField(choices=EntryKind.choices, required=False)


class EntriesView(ListAPIView):
    """My stored-value history, newest first."""

    serializer_class = StoredValueEntrySerializer

    @api_docs.entries
    @extend_schema(
        parameters=[
            OpenApiParameter("kind", enum=EntryKind.values, required=False, description="按类型过滤。")
        ],
        responses={200: StoredValueEntrySerializer(many=True), 400: ErrorSerializer},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = EntryFilter(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        return selectors.stored_value_entries(
            member_id=self.request.user.pk, kind=query.validated_data.get("kind")
        )
