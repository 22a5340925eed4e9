"""Member-facing API: login, profile, phone, the "me" summary; membership (tier, cards, benefits, member days)."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api.idempotency import idempotent
from loyalty.api.pagination import HistoryCursorPagination, PageQuery
from loyalty.api.serializers import (
    MAX_ID,
    ErrorSerializer,
    JsonBooleanField,
    StrictQuerySerializer,
    StrictSerializer,
)
from loyalty.api.server_auth import IsApiClient, ServerSignatureAuthentication
from loyalty.api.throttling import ScopedThrottle
from loyalty.api.views import NoInputMixin
from members import selectors, services
from members.exceptions import DevLoginDisabled
from members.models import Member
from payments.api import with_payment_params


class ProfileSerializer(StrictSerializer):
    id = serializers.IntegerField(read_only=True)
    nickname = serializers.CharField(max_length=64, required=False, allow_blank=True)
    avatar_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    gender = serializers.ChoiceField(choices=Member.Gender.choices, required=False)
    birthday = serializers.DateField(required=False, allow_null=True)  # null until the member gives it
    phone = serializers.CharField(read_only=True)
    invite_code = serializers.CharField(read_only=True)
    registration_channel = serializers.CharField(read_only=True)
    registered_at = serializers.DateTimeField(read_only=True)


class LoginInput(StrictSerializer):
    code = serializers.CharField(max_length=128, help_text="The code from wx.login().")
    channel = serializers.CharField(
        max_length=64,
        required=False,
        default="",
        allow_blank=True,
        help_text="Registration channel (QR scene, campaign); recorded for new members only.",
    )
    invite_code = serializers.CharField(max_length=16, required=False, default="", allow_blank=True)


class LoginOutput(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    is_new_member = serializers.BooleanField()
    member = ProfileSerializer()


def _login_response(result: services.LoginResult) -> Response:
    body = LoginOutput(
        {
            "token": result.token,
            "expires_at": result.expires_at,
            "is_new_member": result.created,
            "member": result.member,
        }
    ).data
    return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


_LOGIN_RESPONSES = {
    200: LoginOutput,
    201: LoginOutput,
    400: ErrorSerializer,
    429: ErrorSerializer,
    503: OpenApiResponse(ErrorSerializer, description="wechat_unavailable"),
}


class WechatLoginView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedThrottle]
    throttle_scope = "login"

    @extend_schema(request=LoginInput, responses=_LOGIN_RESPONSES, tags=["auth"], auth=[])
    def post(self, request):
        data = LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _login_response(services.member_login_wechat(**data.validated_data))


class DevLoginView(APIView):
    """Login without WeChat for development: the same code is always the same member."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedThrottle]
    throttle_scope = "login"

    @extend_schema(request=LoginInput, responses=_LOGIN_RESPONSES, tags=["auth"], auth=[])
    def post(self, request):
        if not (settings.DEBUG and settings.WECHAT_DEV_LOGIN):
            raise DevLoginDisabled()
        data = LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _login_response(services.member_login_dev(**data.validated_data))


class LogoutView(NoInputMixin, APIView):
    @extend_schema(request=None, responses={204: None}, tags=["auth"])
    def post(self, request):
        services.member_token_revoke(token_id=request.auth.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProfileView(APIView):
    @extend_schema(responses=ProfileSerializer, tags=["me"])
    def get(self, request):
        return Response(ProfileSerializer(request.user).data)

    @extend_schema(
        request=ProfileSerializer,
        responses={
            200: ProfileSerializer,
            400: ErrorSerializer,
            409: OpenApiResponse(ErrorSerializer, description="birthday_change_limited"),
        },
        tags=["me"],
    )
    def patch(self, request):
        data = ProfileSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        member = services.member_update_profile(member=request.user, **data.validated_data)
        return Response(ProfileSerializer(member).data)


class PhoneBindInput(StrictSerializer):
    code = serializers.CharField(max_length=128, help_text="The code from the getPhoneNumber button.")


class PhoneBindView(APIView):
    @extend_schema(
        request=PhoneBindInput,
        responses={200: ProfileSerializer, 400: ErrorSerializer, 409: ErrorSerializer, 503: ErrorSerializer},
        tags=["me"],
    )
    def post(self, request):
        data = PhoneBindInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.member_bind_phone(member=request.user, code=data.validated_data["code"])
        return Response(ProfileSerializer(member).data)


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    nickname = serializers.CharField()
    avatar_url = serializers.CharField()
    phone_bound = serializers.BooleanField()
    invite_code = serializers.CharField()
    registered_at = serializers.DateTimeField()
    points = serializers.IntegerField(help_text="Usable points.")
    stored_value_fen = serializers.IntegerField(help_text="Stored-value balance (principal + bonus).")
    coupons_available = serializers.IntegerField(help_text="Coupons I can use now.")


class MeView(APIView):
    @extend_schema(responses=MeSerializer, tags=["me"])
    def get(self, request):
        return Response(MeSerializer(selectors.member_summary(member=request.user)).data)


class ServerMemberSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    openid = serializers.CharField()
    unionid = serializers.CharField()
    phone = serializers.CharField()
    nickname = serializers.CharField()
    registered_at = serializers.DateTimeField()


class ServerMemberLookupInput(StrictQuerySerializer):
    openid = serializers.CharField(max_length=64, required=False)
    phone = serializers.CharField(max_length=20, required=False)

    def validate(self, attrs):
        if len(attrs) != 1:
            raise serializers.ValidationError("Give exactly one of openid or phone.")
        return attrs


class ServerMemberLookupView(APIView):
    """For the merchant's order system: which member is this customer?"""

    authentication_classes = [ServerSignatureAuthentication]
    permission_classes = [IsApiClient]

    @extend_schema(
        parameters=[ServerMemberLookupInput],
        responses={200: ServerMemberSerializer, 401: ErrorSerializer, 404: ErrorSerializer},
        tags=["server"],
    )
    def get(self, request):
        query = ServerMemberLookupInput(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        member = selectors.member_lookup(**query.validated_data)
        return Response(ServerMemberSerializer(member).data)


# --- account closure (注销) ---------------------------------------------------------------------


class CloseAccountOutput(serializers.Serializer):
    closed_at = serializers.DateTimeField()
    points_forfeited = serializers.IntegerField(help_text="Points taken away with the account.")
    coupons_voided = serializers.IntegerField(help_text="Unused coupons voided with the account.")


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
    confirm = ConfirmationField(help_text="Must be true: closing the account cannot be undone.")


class CloseAccountView(APIView):
    """Close my account (注销): refused while stored value remains or a recharge awaits payment.

    Points and unused coupons are forfeited, personal data is erased and every
    session ends; the same WeChat user signing in later is a new member.  It
    cannot be undone, so the body must say ``{"confirm": true}``.
    """

    @extend_schema(
        request=CloseAccountInput,
        responses={
            200: CloseAccountOutput,
            409: OpenApiResponse(ErrorSerializer, description="stored_value_remaining, recharge_pending"),
        },
        parameters=[OpenApiParameter("Idempotency-Key", location="header", required=True)],
        tags=["me"],
    )
    @idempotent
    def post(self, request):
        from members.closure import member_close

        CloseAccountInput(data=request.data).is_valid(raise_exception=True)
        closure = member_close(member_id=request.user.pk)
        return Response(CloseAccountOutput(closure).data)


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
        from members.models import TierChange

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
        from django.utils import timezone

        return card.is_valid_at(timezone.now())


class MyCardsView(APIView):
    @extend_schema(responses=CardSerializer(many=True), tags=["membership"], summary="My membership cards")
    def get(self, request):
        from members.cards import member_card_rows

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
        from members.cards import card_claim

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
        from members.cards import card_trial

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
        from members.cards import card_purchase_create

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
        from members.exceptions import CardPurchaseNotFound
        from members.models import CardPurchase, PurchaseStatus
        from payments import services as payments
        from payments.exceptions import PaymentUnavailable

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
        from django.utils import timezone

        from members.benefits import member_benefits

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
        from django.utils import timezone

        from members.member_days import member_days_schedule

        active, upcoming = member_days_schedule(now=timezone.now())
        return Response(MemberDaysSerializer({"active": active, "upcoming": upcoming}).data)
