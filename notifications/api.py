from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api.pagination import PageQuery
from loyalty.api.views import NoInputMixin
from loyalty.errors import NotFound
from notifications import services
from notifications.models import Notification


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "data", "created_at", "read_at"]


class NotificationsView(ListAPIView):
    """The member's inbox, newest first."""

    serializer_class = NotificationSerializer

    @extend_schema(tags=["me"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        PageQuery(data=self.request.query_params.dict()).is_valid(raise_exception=True)
        return Notification.objects.filter(member_id=self.request.user.pk)


class MarkReadView(NoInputMixin, APIView):
    @extend_schema(request=None, responses={204: None}, tags=["me"])
    def post(self, request, pk):
        if not Notification.objects.filter(pk=pk, member_id=request.user.pk).exists():
            raise NotFound()
        services.notification_mark_read(member_id=request.user.pk, notification_id=pk)
        return Response(status=204)
