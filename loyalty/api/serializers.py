from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Refuses input fields it does not accept (unknown or read-only).

    A typo in a field name must not silently do nothing: the client gets 400
    ``validation_error`` naming the field.
    """

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError(
                    {name: [_("This field is unknown or read-only.")] for name in unknown}
                )
        return super().to_internal_value(data)


class StrictModelSerializer(StrictSerializer, serializers.ModelSerializer):
    pass


class ErrorSerializer(serializers.Serializer):
    """The shape of every error response (for the OpenAPI schema)."""

    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()
