"""Member-facing API: login, profile, phone, the "me" summary, account closure (membership: ``membership.api``)."""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api import docs
from loyalty.api.serializers import (
    ErrorSerializer,
    StrictQuerySerializer,
    StrictSerializer,
)
from loyalty.api.server_auth import IsApiClient, ServerSignatureAuthentication
from loyalty.api.throttling import ScopedThrottle
from loyalty.api.views import NoInputMixin
from members import api_docs, codes, selectors, services
from members.exceptions import DevLoginDisabled
from members.models import Member
from stores.fields import staff_code_field, store_code_field


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
    code = serializers.CharField(max_length=128, help_text="wx.login() 返回的 code，只能用一次。")
    channel = serializers.CharField(
        max_length=64,
        required=False,
        default="",
        allow_blank=True,
        help_text="注册渠道（二维码场景值、投放活动等），仅新会员注册时记录。",
    )
    invite_code = serializers.CharField(
        max_length=16,
        required=False,
        default="",
        allow_blank=True,
        help_text="邀请人的邀请码，仅新会员注册时记录。",
    )
    store_code = store_code_field(
        "门店编码（门店二维码场景值），仅新会员注册时记录为注册门店和归属门店；未知或已闭店的门店不记录。"
    )
    staff_code = staff_code_field(
        "店员工号（店员二维码场景值），仅新会员注册时记录为推荐店员；未知或已停用的工号不记录。"
    )
    poster_scene = serializers.RegexField(
        r"^[0-9A-Za-z]+$",
        max_length=32,
        required=False,
        default="",
        allow_blank=True,
        help_text="分享海报小程序码的场景值（页面参数 scene），仅新会员注册时记录：渠道与邀请人取自海报，"
        "优先于 channel 与 invite_code；未知的场景值不记录、不报错。",
    )


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
    503: OpenApiResponse(ErrorSerializer, description="微信接口暂不可用（wechat_unavailable）"),
}


class WechatLoginView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedThrottle]
    throttle_scope = "login"

    @api_docs.wechat_login
    @extend_schema(request=LoginInput, responses=_LOGIN_RESPONSES, auth=[])
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

    @api_docs.dev_login
    @extend_schema(request=LoginInput, responses=_LOGIN_RESPONSES, auth=[])
    def post(self, request):
        if not (settings.DEBUG and settings.WECHAT_DEV_LOGIN):
            raise DevLoginDisabled()
        data = LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _login_response(services.member_login_dev(**data.validated_data))


class LogoutView(NoInputMixin, APIView):
    @api_docs.logout
    @extend_schema(request=None, responses={204: docs.NO_CONTENT})
    def post(self, request):
        services.member_token_revoke(token_id=request.auth.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProfileView(APIView):
    @api_docs.profile
    @extend_schema(responses=ProfileSerializer)
    def get(self, request):
        return Response(ProfileSerializer(request.user).data)

    @api_docs.profile_update
    @extend_schema(
        request=ProfileSerializer,
        responses={
            200: ProfileSerializer,
            400: ErrorSerializer,
            409: OpenApiResponse(ErrorSerializer, description="生日修改受限（birthday_change_limited）"),
        },
    )
    def patch(self, request):
        data = ProfileSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        member = services.member_update_profile(member=request.user, **data.validated_data)
        return Response(ProfileSerializer(member).data)


class PhoneBindInput(StrictSerializer):
    code = serializers.CharField(max_length=128, help_text="getPhoneNumber 按钮回调里的 code。")


class PhoneBindView(APIView):
    @api_docs.phone_bind
    @extend_schema(
        request=PhoneBindInput,
        responses={200: ProfileSerializer, 400: ErrorSerializer, 409: ErrorSerializer, 503: ErrorSerializer},
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
    points = serializers.IntegerField(help_text="可用积分。")
    stored_value_fen = serializers.IntegerField(help_text="储值余额（本金 + 赠送金），单位分。")
    coupons_available = serializers.IntegerField(help_text="当前可用的优惠券张数。")


class MeView(APIView):
    @api_docs.me
    @extend_schema(responses=MeSerializer)
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
    openid = serializers.CharField(max_length=64, required=False, help_text="会员的小程序 openid。")
    phone = serializers.CharField(max_length=20, required=False, help_text="会员绑定的手机号。")

    def validate(self, attrs):
        if len(attrs) != 1:
            raise serializers.ValidationError("Give exactly one of openid or phone.")
        return attrs


class ServerMemberLookupView(APIView):
    """For the merchant's order system: which member is this customer?"""

    authentication_classes = [ServerSignatureAuthentication]
    permission_classes = [IsApiClient]

    @api_docs.server_member_lookup
    @extend_schema(
        parameters=[ServerMemberLookupInput],
        responses={200: ServerMemberSerializer, 401: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request):
        query = ServerMemberLookupInput(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        member = selectors.member_lookup(**query.validated_data)
        return Response(ServerMemberSerializer(member).data)


class MemberCodeSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="18 位数字会员码（条形码内容）。")
    qr_payload = serializers.CharField(help_text="二维码内容。")
    expires_at = serializers.DateTimeField()
    valid_seconds = serializers.IntegerField()


class MemberCodeView(APIView):
    """A fresh 会员码 each call (the previous one stops working): the app refreshes it while shown."""

    throttle_classes = [ScopedThrottle]
    throttle_scope = "member_code"

    @api_docs.member_code
    @extend_schema(responses={200: MemberCodeSerializer, 409: ErrorSerializer, 429: ErrorSerializer})
    def get(self, request):
        issued = codes.member_code_issue(member=request.user)
        body = {
            "code": issued.code,
            "qr_payload": codes.qr_payload(issued.code),
            "expires_at": issued.expires_at,
            "valid_seconds": settings.MEMBER_CODE_SECONDS,
        }
        return Response(MemberCodeSerializer(body).data, headers={"Cache-Control": "no-store"})
