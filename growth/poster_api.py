"""Share posters for members: the PNG of a poster, and where a poster's code leads (``growth.posters``)."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from growth import api_docs, posters
from growth.models import PosterKind
from loyalty.api.serializers import MAX_ID, ErrorSerializer, StrictQuerySerializer
from loyalty.api.throttling import ScopedThrottle


class PosterQuery(StrictQuerySerializer):
    kind = serializers.ChoiceField(
        choices=PosterKind.choices,
        help_text="group 我的拼团（已付款、拼团中）、bargain 我的砍价（砍价中）、item 积分商城商品、card 会员卡、shop 店铺。",
    )
    id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="团、砍价、商品或会员卡的 id；shop 不传。"
    )


class PosterView(APIView):
    throttle_classes = [ScopedThrottle]
    throttle_scope = "poster"  # POSTER_THROTTLE_RATE, per member

    @api_docs.poster
    @extend_schema(
        parameters=[PosterQuery],
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="海报 PNG 图片。"),
            400: ErrorSerializer,
            404: ErrorSerializer,
            429: ErrorSerializer,
            503: ErrorSerializer,
        },
    )
    def get(self, request):
        query = PosterQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        png = posters.poster_png(
            member=request.user, kind=query.validated_data["kind"], target_id=query.validated_data.get("id")
        )
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "private, max-age=600"
        return response


class PosterSceneQuery(StrictQuerySerializer):
    scene = serializers.RegexField(
        r"^[0-9A-Za-z]+$", max_length=32, help_text="小程序码打开页面时带的 scene 参数。"
    )


class PosterSceneSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=PosterKind.choices)
    target_id = serializers.IntegerField(
        allow_null=True, help_text="团、砍价、商品或会员卡的 id；店铺为 null。"
    )
    path = serializers.CharField(help_text="要打开的小程序页面与参数。")
    channel = serializers.CharField(help_text="注册渠道码（海报的活动或种类）。")
    sharer_nickname = serializers.CharField()
    sharer_avatar_url = serializers.CharField()


class PosterSceneView(APIView):
    @api_docs.poster_scene
    @extend_schema(
        parameters=[PosterSceneQuery], responses={200: PosterSceneSerializer, 404: ErrorSerializer}
    )
    def get(self, request):
        query = PosterSceneQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(
            PosterSceneSerializer(posters.poster_scene_resolve(code=query.validated_data["scene"])).data
        )
