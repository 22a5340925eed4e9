"""Member-facing points API: balance, history, check-in, check-in calendar."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api.pagination import PageQuery
from loyalty.api.serializers import ErrorSerializer, StrictQuerySerializer
from loyalty.api.throttling import ScopedThrottle
from loyalty.api.views import NoInputMixin
from points import api_docs, earning, selectors
from points.models import EntryKind, PointsEntry


class BalanceSerializer(serializers.Serializer):
    balance = serializers.IntegerField(help_text="可用积分（负数表示退款追回后欠下的积分）。")
    expiring_points = serializers.IntegerField(help_text="最先过期的那一批积分的数量。")
    expiring_at = serializers.DateTimeField(allow_null=True, help_text="那一批积分的过期时间。")


class BalanceView(APIView):
    @api_docs.balance
    @extend_schema(responses=BalanceSerializer)
    def get(self, request):
        return Response(BalanceSerializer(selectors.points_balance(member_id=request.user.pk)).data)


class EntrySerializer(serializers.ModelSerializer):
    # Codes, as before the admin gave the column its labels (the API's contract is the code).
    source = serializers.CharField(label=_("source"), max_length=32, allow_blank=True, required=False)

    class Meta:
        model = PointsEntry
        fields = ["id", "kind", "amount", "balance_after", "source", "reference", "memo", "created_at"]


class EntryFilter(PageQuery):
    kind = serializers.ChoiceField(choices=EntryKind.choices, required=False)


class EntriesView(ListAPIView):
    """The member's points history, newest first."""

    serializer_class = EntrySerializer

    @api_docs.entries
    @extend_schema(
        parameters=[
            OpenApiParameter("kind", enum=EntryKind.values, required=False, description="按类型过滤。")
        ],
        responses={200: EntrySerializer(many=True), 400: ErrorSerializer},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = EntryFilter(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        return selectors.points_entries(member_id=self.request.user.pk, kind=query.validated_data.get("kind"))


class CheckInSerializer(serializers.Serializer):
    day = serializers.DateField()
    streak = serializers.IntegerField()
    points = serializers.IntegerField()
    already_checked_in = serializers.BooleanField()


class CheckInView(NoInputMixin, APIView):
    """Check in for today. Tapping again the same day returns today's check-in (200, not an error)."""

    throttle_classes = [ScopedThrottle]
    throttle_scope = "check_in"  # CHECK_IN_THROTTLE_RATE, per member

    @api_docs.check_in
    @extend_schema(
        request=None,
        responses={
            200: CheckInSerializer,
            201: CheckInSerializer,
            403: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
    def post(self, request):
        result = earning.points_check_in(member_id=request.user.pk)
        body = {
            "day": result.day,
            "streak": result.streak,
            "points": result.points,
            "already_checked_in": not result.created,
        }
        return Response(CheckInSerializer(body).data, status=201 if result.created else 200)


class CalendarQuery(StrictQuerySerializer):
    month = serializers.RegexField(
        r"^(19|20)\d{2}-(0[1-9]|1[0-2])$",
        required=False,
        help_text="月份 YYYY-MM（1900–2099），默认本月。",
    )


class CalendarDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    streak = serializers.IntegerField()
    points = serializers.IntegerField()


class CalendarSerializer(serializers.Serializer):
    month = serializers.CharField()
    days = CalendarDaySerializer(many=True)
    checked_in_today = serializers.BooleanField()
    current_streak = serializers.IntegerField()


class CheckInCalendarView(APIView):
    @api_docs.calendar
    @extend_schema(parameters=[CalendarQuery], responses={200: CalendarSerializer, 400: ErrorSerializer})
    def get(self, request):
        query = CalendarQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        month = query.validated_data.get("month") or timezone.localdate().strftime("%Y-%m")
        year, month_number = (int(part) for part in month.split("-"))
        body = selectors.check_in_calendar(member_id=request.user.pk, year=year, month=month_number)
        return Response(CalendarSerializer(body).data)
