"""拼团 group buying for members: activities, a group's public state, open, join, my groups."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from growth import api_docs, attribution, bargains, selectors, services
from growth.exceptions import ActivityNotFound, BargainNotFound, GroupNotFound
from growth.models import PlaceStatus
from loyalty.api.idempotency import idempotent
from loyalty.api.serializers import MAX_ID, ErrorSerializer, StrictSerializer
from loyalty.api.views import NoInputMixin
from loyalty.labels import REASONS
from payments import services as payments
from payments.api import PaymentParamsSerializer, with_payment_params
from payments.exceptions import PaymentUnavailable


class ActivitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    item_id = serializers.IntegerField()
    item_name = serializers.CharField(source="item.name")
    kind = serializers.CharField(
        source="item.kind", help_text="physical 实物（需收货地址）或 coupon 优惠券。"
    )
    image_url = serializers.CharField(source="item.image_url")
    group_price_fen = serializers.IntegerField()
    original_price_fen = serializers.IntegerField()
    group_size = serializers.IntegerField(help_text="成团人数（含团长）。")
    time_limit_minutes = serializers.IntegerField(help_text="开团后多少分钟内未成团即失败并全额退款。")
    stock_left = serializers.IntegerField(help_text="剩余可售件数。")
    per_member_limit = serializers.IntegerField(allow_null=True)
    new_members_only = serializers.BooleanField(help_text="仅活动开始后注册的新会员可参团（老带新）。")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class GroupMemberShownSerializer(serializers.Serializer):
    nickname = serializers.CharField(source="member.nickname")
    avatar_url = serializers.CharField(source="member.avatar_url")
    is_leader = serializers.SerializerMethodField()

    def get_is_leader(self, place) -> bool:
        return place.role == "leader"


class GroupSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    activity_id = serializers.IntegerField()
    activity_name = serializers.CharField(source="activity.name")
    state = serializers.CharField(help_text="open 拼团中、complete 已成团、failed 未成团（已全额退款）。")
    size = serializers.IntegerField()
    joined_count = serializers.IntegerField()
    places_left = serializers.SerializerMethodField()
    price_fen = serializers.IntegerField()
    deadline = serializers.DateTimeField()
    seconds_left = serializers.SerializerMethodField(help_text="距截止的秒数（倒计时），已截止为 0。")
    members = GroupMemberShownSerializer(source="shown_places", many=True)

    def get_places_left(self, group) -> int:
        return max(0, group.size - group.joined_count) if group.state == "open" else 0

    def get_seconds_left(self, group) -> int:
        if group.state != "open":
            return 0
        return max(0, int((group.deadline - timezone.now()).total_seconds()))


class ActivityDetailSerializer(serializers.Serializer):
    activity = ActivitySerializer()
    open_groups = GroupSerializer(many=True, help_text="可参加的团，差人最少的在前。")


class ShareSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="分享出去的小程序路径（带活动渠道与我的邀请码）。")
    channel = serializers.CharField(help_text="活动的注册渠道码：好友从分享注册时登录接口传 channel。")
    invite_code = serializers.CharField(
        help_text="我的邀请码：好友注册时登录接口传 invite_code，记我为邀请人。"
    )


class PlaceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    activity_id = serializers.IntegerField()
    activity_name = serializers.CharField(source="activity.name")
    group_id = serializers.IntegerField(allow_null=True, help_text="团长付款后才有团。")
    group_state = serializers.CharField(source="group.state", allow_null=True, default=None)
    group_deadline = serializers.DateTimeField(source="group.deadline", allow_null=True, default=None)
    role = serializers.CharField(help_text="leader 团长、member 团员。")
    status = serializers.CharField()
    amount_fen = serializers.IntegerField()
    out_trade_no = serializers.CharField()
    refund_reason = serializers.SerializerMethodField(help_text="退款原因（文字）。")
    redemption_id = serializers.IntegerField(allow_null=True, help_text="实物：积分商城里的发货单 id。")
    coupon_id = serializers.IntegerField(allow_null=True, help_text="优惠券：发放的券 id。")
    created_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    refunded_at = serializers.DateTimeField(allow_null=True)
    share = serializers.SerializerMethodField(help_text="团开出后：分享这个团。")

    @extend_schema_field(ShareSerializer(allow_null=True))
    def get_share(self, place):
        if place.group_id is None:
            return None
        return attribution.share(
            page=attribution.GROUP_PAGE,
            target_id=place.group_id,
            channel=attribution.group_buy_channel(place.activity_id),
            invite_code=place.member.invite_code,
        )

    def get_refund_reason(self, place) -> str:
        return REASONS.label(place.refund_reason) if place.refund_reason else ""


class PlacedSerializer(serializers.Serializer):
    place = PlaceSerializer()
    payment = PaymentParamsSerializer(allow_null=True)


class ActivitiesView(APIView):
    @api_docs.activities
    @extend_schema(responses=ActivitySerializer(many=True))
    def get(self, request):
        return Response(ActivitySerializer(selectors.activities_on_sale(), many=True).data)


class ActivityDetailView(APIView):
    @api_docs.activity_detail
    @extend_schema(responses={200: ActivityDetailSerializer, 404: ErrorSerializer})
    def get(self, request, pk):
        activity = selectors.activity_for_member(activity_id=pk)
        if activity is None:
            raise ActivityNotFound()
        groups = selectors.open_groups(activity_id=pk)
        return Response(ActivityDetailSerializer({"activity": activity, "open_groups": groups}).data)


class GroupDetailView(APIView):
    @api_docs.group_detail
    @extend_schema(responses={200: GroupSerializer, 404: ErrorSerializer})
    def get(self, request, pk):
        group = selectors.group_public(group_id=pk)
        if group is None:
            raise GroupNotFound()
        return Response(GroupSerializer(group).data)


class OpenInput(StrictSerializer):
    activity_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    address_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="收货地址 id，实物必填。"
    )


class JoinInput(StrictSerializer):
    address_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="收货地址 id，实物必填。"
    )


def _placed(request, placed) -> Response:
    place = selectors.member_places(member_id=request.user.pk).get(pk=placed.place.pk)
    # "payment" is filled in after commit (with_payment_params), never under a row lock.
    return Response({"place": PlaceSerializer(place).data, "payment": None}, status=201)


class GroupsView(APIView):
    @api_docs.open_group
    @extend_schema(
        request=OpenInput,
        responses={
            201: PlacedSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            503: ErrorSerializer,
        },
    )
    @idempotent(after_commit=with_payment_params("place"))
    def post(self, request):
        data = OpenInput(data=request.data)
        data.is_valid(raise_exception=True)
        placed = services.group_open(
            member=request.user,
            activity_id=data.validated_data["activity_id"],
            address_id=data.validated_data.get("address_id"),
            idempotency_key=request.headers["Idempotency-Key"],
        )
        return _placed(request, placed)


class JoinView(APIView):
    @api_docs.join_group
    @extend_schema(
        request=JoinInput,
        responses={
            201: PlacedSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            503: ErrorSerializer,
        },
    )
    @idempotent(after_commit=with_payment_params("place"))
    def post(self, request, pk):
        data = JoinInput(data=request.data)
        data.is_valid(raise_exception=True)
        placed = services.group_join(
            member=request.user,
            group_id=pk,
            address_id=data.validated_data.get("address_id"),
            idempotency_key=request.headers["Idempotency-Key"],
        )
        return _placed(request, placed)


class MyPlacesView(APIView):
    @api_docs.my_groups
    @extend_schema(responses=PlaceSerializer(many=True))
    def get(self, request):
        places = selectors.member_places(member_id=request.user.pk)[:100]
        return Response(PlaceSerializer(places, many=True).data)


class MyPlaceView(APIView):
    @api_docs.my_group
    @extend_schema(responses={200: PlaceSerializer, 404: ErrorSerializer})
    def get(self, request, pk):
        """One of my places; one still awaiting payment is checked with WeChat Pay first."""
        place = selectors.member_places(member_id=request.user.pk).filter(pk=pk).first()
        if place is None:
            raise GroupNotFound()
        if place.status == PlaceStatus.PENDING_PAYMENT and place.out_trade_no:
            try:
                payments.payment_query(payment=payments.payment_get(out_trade_no=place.out_trade_no))
            except PaymentUnavailable:
                pass  # answer with what we know; the notification will still come
            place = selectors.member_places(member_id=request.user.pk).get(pk=pk)
        return Response(PlaceSerializer(place).data)


# --- 砍价 -------------------------------------------------------------------------------------------


class BargainActivitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    item_id = serializers.IntegerField()
    item_name = serializers.CharField(source="item.name")
    kind = serializers.CharField(
        source="item.kind", help_text="physical 实物（需收货地址）或 coupon 优惠券。"
    )
    image_url = serializers.CharField(source="item.image_url")
    original_price_fen = serializers.IntegerField()
    floor_price_fen = serializers.IntegerField(help_text="底价：砍满人数后的价格。")
    helpers_needed = serializers.IntegerField(help_text="砍到底价所需的好友人数。")
    time_limit_minutes = serializers.IntegerField()
    stock_left = serializers.SerializerMethodField()
    per_member_limit = serializers.IntegerField(allow_null=True)
    helpers_must_be_new = serializers.BooleanField()
    helper_daily_limit = serializers.IntegerField(allow_null=True, help_text="每位好友每天最多帮砍几次。")
    buy_above_floor = serializers.BooleanField(help_text="未砍到底价也可按当前价购买。")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()

    def get_stock_left(self, activity) -> int:
        return activity.stock_total - activity.sold_count


class HelpSerializer(serializers.Serializer):
    seq = serializers.IntegerField(help_text="第几刀。")
    nickname = serializers.CharField(source="helper.nickname")
    avatar_url = serializers.CharField(source="helper.avatar_url")
    cut_fen = serializers.IntegerField()
    price_after_fen = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class BargainSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    activity_id = serializers.IntegerField()
    activity_name = serializers.CharField(source="activity.name")
    starter_nickname = serializers.CharField(source="member.nickname")
    starter_avatar_url = serializers.CharField(source="member.avatar_url")
    state = serializers.CharField(
        help_text="open 砍价中、pending_payment 待支付、paid 已购买、expired 已结束。"
    )
    original_price_fen = serializers.IntegerField()
    floor_price_fen = serializers.IntegerField()
    price_fen = serializers.IntegerField(help_text="当前价。")
    helpers_needed = serializers.IntegerField()
    helps_count = serializers.IntegerField()
    buy_above_floor = serializers.BooleanField()
    deadline = serializers.DateTimeField()
    seconds_left = serializers.SerializerMethodField()
    helps = HelpSerializer(many=True)

    def get_seconds_left(self, bargain) -> int:
        if bargain.state != "open":
            return 0
        return max(0, int((bargain.deadline - timezone.now()).total_seconds()))


class MyBargainSerializer(BargainSerializer):
    out_trade_no = serializers.CharField()
    paid_fen = serializers.IntegerField(allow_null=True)
    redemption_id = serializers.IntegerField(allow_null=True)
    coupon_id = serializers.IntegerField(allow_null=True)
    share = serializers.SerializerMethodField(help_text="分享这个砍价，请好友帮砍。")

    @extend_schema_field(ShareSerializer)
    def get_share(self, bargain):
        return attribution.share(
            page=attribution.BARGAIN_PAGE,
            target_id=bargain.pk,
            channel=attribution.bargain_channel(bargain.activity_id),
            invite_code=bargain.member.invite_code,
        )


class BargainActivitiesView(APIView):
    @api_docs.bargain_activities
    @extend_schema(responses=BargainActivitySerializer(many=True))
    def get(self, request):
        return Response(BargainActivitySerializer(selectors.bargain_activities_on_sale(), many=True).data)


class BargainStartInput(StrictSerializer):
    activity_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    address_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="收货地址 id，实物必填。"
    )


class BargainsView(APIView):
    @api_docs.my_bargains
    @extend_schema(responses=MyBargainSerializer(many=True))
    def get(self, request):
        return Response(
            MyBargainSerializer(selectors.member_bargains(member_id=request.user.pk)[:100], many=True).data
        )

    @api_docs.start_bargain
    @extend_schema(
        request=BargainStartInput,
        responses={
            201: MyBargainSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    @idempotent
    def post(self, request):
        data = BargainStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        started = bargains.bargain_start(
            member=request.user,
            activity_id=data.validated_data["activity_id"],
            address_id=data.validated_data.get("address_id"),
            idempotency_key=request.headers["Idempotency-Key"],
        )
        bargain = selectors.member_bargains(member_id=request.user.pk).get(pk=started.place.pk)
        return Response(MyBargainSerializer(bargain).data, status=201)


class BargainDetailView(APIView):
    @api_docs.bargain_detail
    @extend_schema(responses={200: BargainSerializer, 404: ErrorSerializer})
    def get(self, request, pk):
        bargain = selectors.bargain_public(bargain_id=pk)
        if bargain is None:
            raise BargainNotFound()
        return Response(BargainSerializer(bargain).data)


class HelpView(NoInputMixin, APIView):
    @api_docs.help_bargain
    @extend_schema(
        request=None,
        responses={201: HelpSerializer, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    def post(self, request, pk):
        cut = bargains.bargain_help(helper=request.user, bargain_id=pk)
        return Response(HelpSerializer(cut).data, status=201)


class BoughtSerializer(serializers.Serializer):
    bargain = MyBargainSerializer()
    payment = PaymentParamsSerializer(allow_null=True)


class BuyView(NoInputMixin, APIView):
    @api_docs.buy_bargain
    @extend_schema(
        request=None,
        responses={200: BoughtSerializer, 404: ErrorSerializer, 409: ErrorSerializer, 503: ErrorSerializer},
    )
    @idempotent(after_commit=with_payment_params("bargain"))
    def post(self, request, pk):
        bargains.bargain_buy(member=request.user, bargain_id=pk)
        bargain = selectors.member_bargains(member_id=request.user.pk).get(pk=pk)
        return Response({"bargain": MyBargainSerializer(bargain).data, "payment": None})
