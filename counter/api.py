"""The till's API (HMAC-signed): resolve a 会员码 in a store."""

from __future__ import annotations

import hashlib

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from counter import api_docs, selectors
from loyalty.api.serializers import ErrorSerializer, StrictSerializer
from loyalty.api.server_auth import IsApiClient, ServerSignatureAuthentication
from loyalty.api.throttling import ScopedThrottle


class PerStoreThrottle(ScopedThrottle):
    """Counted per store code in the body (``store_code``): one store's till cannot resolve codes faster
    than the rate, whichever API client or address it calls from; a body without one counts as the
    caller's address."""

    def get_cache_key(self, request, view):
        store_code = request.data.get("store_code") if isinstance(request.data, dict) else None
        if not isinstance(store_code, str) or not store_code:
            return super().get_cache_key(request, view)
        # Hashed: the code is whatever the caller sent, and a cache key must be short plain ASCII.
        ident = hashlib.sha256(store_code[:32].encode()).hexdigest()[:24]
        return self.cache_format % {"scope": self.scope, "ident": "store:" + ident}


class ResolveInput(StrictSerializer):
    code = serializers.CharField(max_length=64, help_text="扫到的会员码：18 位数字，或二维码内容。")
    store_code = serializers.CharField(max_length=32, help_text="门店编码。")


class CounterMemberSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    nickname = serializers.CharField()
    phone = serializers.CharField(help_text="脱敏手机号，未绑定为空。")
    registered_at = serializers.DateTimeField()


class CounterTierSerializer(serializers.Serializer):
    level = serializers.IntegerField()
    name = serializers.CharField()


class CounterBenefitsSerializer(serializers.Serializer):
    discount_bp = serializers.IntegerField(help_text="会员折扣，万分比（1000 即 9 折）。")
    free_shipping = serializers.BooleanField()
    points_multiplier = serializers.CharField()
    sources = serializers.DictField(child=serializers.CharField())


class CounterStoredValueSerializer(serializers.Serializer):
    balance_fen = serializers.IntegerField()
    principal_fen = serializers.IntegerField()
    bonus_fen = serializers.IntegerField()
    frozen = serializers.BooleanField()
    balance = serializers.CharField(help_text="余额，元（显示用）。")


class CounterCouponSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="券 id：试算、下单时放进 coupon_ids。")
    name = serializers.CharField()
    face = serializers.CharField(help_text="券面，如 满¥100.00减¥20.00。")
    kind = serializers.CharField()
    valid_until = serializers.DateTimeField()


class ResolveOutput(serializers.Serializer):
    store_code = serializers.CharField()
    code_expires_at = serializers.DateTimeField()
    member = CounterMemberSerializer()
    tier = CounterTierSerializer()
    benefits = CounterBenefitsSerializer()
    points = serializers.IntegerField()
    stored_value = CounterStoredValueSerializer()
    coupons = CounterCouponSerializer(many=True)


class ServerMemberCodeResolveView(APIView):
    authentication_classes = [ServerSignatureAuthentication]
    permission_classes = [IsApiClient]
    throttle_classes = [PerStoreThrottle]
    throttle_scope = "member_code_resolve"

    @api_docs.resolve
    @extend_schema(
        request=ResolveInput,
        responses={
            200: ResolveOutput,
            400: ErrorSerializer,
            401: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
    def post(self, request):
        data = ResolveInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(ResolveOutput(selectors.member_code_resolve(**data.validated_data)).data)
