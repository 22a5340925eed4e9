from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api import docs
from loyalty.api.idempotency import idempotent
from loyalty.api.pagination import PageQuery
from loyalty.api.serializers import ErrorSerializer, StrictSerializer
from loyalty.api.views import NoInputMixin
from loyalty.errors import NotFound
from notifications import api_docs, services
from notifications.models import Notification, WechatTemplate


class NotificationSerializer(serializers.ModelSerializer):
    # Codes, as before the admin gave the column its labels (the API's contract is the code).
    kind = serializers.CharField(label=_("kind"), max_length=40)

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "data", "created_at", "read_at"]


class NotificationsView(ListAPIView):
    """The member's inbox, newest first."""

    serializer_class = NotificationSerializer

    @api_docs.notifications
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        PageQuery(data=self.request.query_params.dict()).is_valid(raise_exception=True)
        return Notification.objects.filter(member_id=self.request.user.pk)


class MarkReadView(NoInputMixin, APIView):
    @api_docs.mark_read
    @extend_schema(request=None, responses={204: docs.NO_CONTENT})
    def post(self, request, pk):
        if not Notification.objects.filter(pk=pk, member_id=request.user.pk).exists():
            raise NotFound()
        services.notification_mark_read(member_id=request.user.pk, notification_id=pk)
        return Response(status=204)


# --- subscription messages (订阅消息): which templates to ask for, and what the member answered ----------


class SubscriptionSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="该模板承载的提醒类型。")
    template_id = serializers.CharField(help_text="传给 wx.requestSubscribeMessage({tmplIds}) 的模板 id。")
    credits = serializers.IntegerField(help_text="服务端还可以给我发送该模板消息的次数。")


class SubscriptionListSerializer(serializers.Serializer):
    results = SubscriptionSerializer(many=True)


class SubscriptionReportInput(StrictSerializer):
    results = serializers.DictField(
        child=serializers.ChoiceField(
            choices=[("accept", "允许"), ("reject", "拒绝"), ("ban", "已被封禁"), ("filter", "被过滤")]
        ),
        allow_empty=False,
        help_text='wx.requestSubscribeMessage 的回调结果，按模板 id 给出，如 {"tmplId": "accept"}。',
    )

    def validate_results(self, value):
        if len(value) > 3:  # what one wx.requestSubscribeMessage call may ask for
            raise serializers.ValidationError(_("At most 3 template ids per report."))
        if any(not 1 <= len(key) <= 128 for key in value):
            raise serializers.ValidationError(_("A template id has 1 to 128 characters."))
        return value


def _subscriptions(member_id: int, template_ids: list[str] | None = None) -> dict:
    templates = WechatTemplate.objects.order_by("kind")
    templates = (
        templates.filter(template_id__in=template_ids) if template_ids else templates.filter(is_active=True)
    )
    templates = list(templates)
    credits = services.subscription_credits(
        member_id=member_id, template_ids=[t.template_id for t in templates]
    )
    return {
        "results": [
            {"kind": t.kind, "template_id": t.template_id, "credits": credits[t.template_id]}
            for t in templates
        ]
    }


class SubscriptionsView(APIView):
    """The subscription messages the mini-program may ask me for, and my answers to wx.requestSubscribeMessage."""

    @api_docs.subscriptions
    @extend_schema(responses=SubscriptionListSerializer)
    def get(self, request):
        return Response(SubscriptionListSerializer(_subscriptions(request.user.pk)).data)

    @api_docs.subscriptions_report
    @extend_schema(
        request=SubscriptionReportInput,
        responses={
            200: SubscriptionListSerializer,
            400: ErrorSerializer,
            409: OpenApiResponse(ErrorSerializer, description="幂等键冲突（idempotency_conflict）"),
        },
    )
    @idempotent
    def post(self, request):
        data = SubscriptionReportInput(data=request.data)
        data.is_valid(raise_exception=True)
        results = data.validated_data["results"]
        services.subscription_report(member_id=request.user.pk, results=results)
        return Response(SubscriptionListSerializer(_subscriptions(request.user.pk, list(results))).data)
