"""The close-account endpoint (注销): the workflow of ``members/closure.py``, above every app.

Apart from ``members.api`` so that the members app's own endpoints import nothing above members
(the import contracts in pyproject.toml); only the root URLconf imports this module.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api.idempotency import idempotent
from loyalty.api.serializers import ErrorSerializer, JsonBooleanField, StrictSerializer
from members.closure import member_close


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
        CloseAccountInput(data=request.data).is_valid(raise_exception=True)
        closure = member_close(member_id=request.user.pk)
        return Response(CloseAccountOutput(closure).data)
