"""A value-moving endpoint used only to test the shared Idempotency-Key mechanism."""

import threading
import time

from django.db import connection, connections, transaction
from django.urls import include, path
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api.idempotency import idempotent
from loyalty.api.serializers import StrictSerializer
from loyalty.api.server_auth import IsApiClient, ServerSignatureAuthentication
from loyalty.errors import ApplicationError
from loyalty.urls import urlpatterns as project_urls
from members.models import Member


class GrantInput(StrictSerializer):
    openid = serializers.CharField()
    fail = serializers.ChoiceField(choices=["none", "refuse", "crash", "unavailable"], default="none")


class Refused(ApplicationError):
    code = "refused_for_test"


class Unavailable(ApplicationError):
    code = "provider_unavailable_for_test"
    status_code = 503


class GrantView(APIView):
    """Creates a member per call, slowly, so concurrent duplicates overlap."""

    @idempotent
    def post(self, request):
        data = GrantInput(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            created = Member.objects.create(openid=data.validated_data["openid"], nickname="granted")
            time.sleep(0.2)
            if data.validated_data["fail"] == "refuse":
                raise Refused(details={"member": created.pk})
            if data.validated_data["fail"] == "unavailable":
                raise Unavailable()
            if data.validated_data["fail"] == "crash":
                raise RuntimeError("unexpected")
        return Response({"member_id": created.pk}, status=201)


def _visible_to_another_connection(member_id: int) -> bool:
    seen = []

    def look():
        try:
            seen.append(Member.objects.filter(pk=member_id).exists())
        finally:
            connections.close_all()

    thread = threading.Thread(target=look)
    thread.start()
    thread.join()
    return seen == [True]


def after_commit(request, response):
    """Stands for WeChat Pay's prepay: sees whether a transaction is open, and may fail."""
    if request.data.get("after") == "unavailable":
        raise Unavailable(details={"member_id": response.data["member_id"]})
    response.data["after_commit"] = {
        "in_atomic_block": connection.in_atomic_block,
        "committed": _visible_to_another_connection(response.data["member_id"]),
    }
    return response


class GrantThenCallView(APIView):
    @idempotent(after_commit=after_commit)
    def post(self, request):
        created = Member.objects.create(openid=request.data["openid"], nickname="granted")
        return Response({"member_id": created.pk}, status=201)


class ServerGrantView(GrantView):
    authentication_classes = [ServerSignatureAuthentication]
    permission_classes = [IsApiClient]


urlpatterns = [
    path("test/grant", GrantView.as_view()),
    path("test/server-grant", ServerGrantView.as_view()),
    path("test/grant-then-call", GrantThenCallView.as_view()),
    path("", include(project_urls)),
]
