"""The base of every input serializer: unknown fields refused, and types strict.

A field declared on a ``StrictSerializer`` (or built by a ``StrictModelSerializer``)
is replaced, once, by its strict form from ``JSON_FIELDS`` (a JSON body) or
``QUERY_FIELDS`` (a query string).  DRF's own fields are lenient: a
BooleanField takes ``0``, ``1`` and ``"yes"``, a CharField takes ``12``, an
IntegerField takes ``"12"``, ``12.0`` and ``"12.0"``.  A client that sends
those has a bug, and guessing what it meant hides it; here it gets 400
``validation_error`` naming the field.  A field class with no strict form
cannot be declared on an input serializer (ImproperlyConfigured on import).
"""

import copy
import re

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

# The largest id a row can have (PostgreSQL bigint): the upper bound of every id an input accepts.
MAX_ID = 2**63 - 1


class JsonIntegerField(serializers.IntegerField):
    """A JSON integer: not a boolean, a float (``1.0``) or a string (``"12"``)."""

    def to_internal_value(self, data):
        if type(data) is not int:
            self.fail("invalid")
        return super().to_internal_value(data)


class JsonBooleanField(serializers.BooleanField):
    """``true`` or ``false``: not ``0``, ``1`` or ``"true"``."""

    def to_internal_value(self, data):
        if type(data) is not bool:
            self.fail("invalid")
        return data


class _JsonString:
    """A JSON string: not a number or a boolean."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class JsonCharField(_JsonString, serializers.CharField):
    pass


class JsonURLField(_JsonString, serializers.URLField):
    pass


class JsonRegexField(_JsonString, serializers.RegexField):
    pass


class JsonChoiceField(serializers.ChoiceField):
    """One of the choices, of the same JSON type: ``1`` is not the choice ``"1"``."""

    def to_internal_value(self, data):
        if type(data) not in {type(choice) for choice in self.choices}:
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class QueryIntegerField(serializers.IntegerField):
    """Decimal digits with an optional minus: not ``1.0``, ``" 1"``, ``"1e3"`` or ``"null"``."""

    _DIGITS = re.compile(r"-?[0-9]+")

    def to_internal_value(self, data):
        if not isinstance(data, str) or not self._DIGITS.fullmatch(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class QueryBooleanField(serializers.BooleanField):
    """``true`` or ``false``, spelt as in JSON and in the OpenAPI schema."""

    def to_internal_value(self, data):
        if data not in ("true", "false"):
            self.fail("invalid")
        return data == "true"


# DRF field class -> its strict form.  A field of the same class as a value is strict already: a
# DateField parses only strings; a list or dict is strict once its child is (it is mapped too); every
# value of a query string is a string.
JSON_FIELDS = {
    serializers.IntegerField: JsonIntegerField,
    serializers.BooleanField: JsonBooleanField,
    serializers.CharField: JsonCharField,
    serializers.URLField: JsonURLField,
    serializers.RegexField: JsonRegexField,
    serializers.ChoiceField: JsonChoiceField,
    serializers.DateField: serializers.DateField,
    serializers.ListField: serializers.ListField,
    serializers.DictField: serializers.DictField,
}
QUERY_FIELDS = {
    serializers.IntegerField: QueryIntegerField,
    serializers.BooleanField: QueryBooleanField,
    serializers.CharField: serializers.CharField,
    serializers.RegexField: serializers.RegexField,
    serializers.ChoiceField: serializers.ChoiceField,
}


def strict_field(field, field_types: dict, where: str):
    """``field`` in its strict form (a new instance, made as DRF copies a field: from its arguments)."""
    if field.read_only or isinstance(field, serializers.HiddenField):
        return field  # never read from the request
    if isinstance(field, serializers.BaseSerializer):
        nested = field.child if isinstance(field, serializers.ListSerializer) else field
        if not isinstance(nested, StrictSerializer):
            raise ImproperlyConfigured(f"{where}: a nested input serializer must be a StrictSerializer")
        return field
    strict_class = field_types.get(type(field), type(field))
    if not issubclass(strict_class, tuple(field_types.values())):  # a strict form, or a subclass of one
        raise ImproperlyConfigured(
            f"{where}: no strict form of {type(field).__name__}; add one to loyalty/api/serializers.py"
        )
    kwargs = dict(field._kwargs)
    if isinstance(field, (serializers.ListField, serializers.DictField)):
        # A fresh copy: a child is bound to one parent (and a list without one takes anything: refused).
        kwargs["child"] = copy.deepcopy(strict_field(field.child, field_types, f"{where}.child"))
    elif strict_class is type(field):
        return field
    return strict_class(*field._args, **kwargs)


class StrictSerializer(serializers.Serializer):
    """Refuses input fields it does not accept (unknown or read-only), and values of another JSON type.

    A typo in a field name must not silently do nothing, and ``"12"`` is not
    the integer 12: the client gets 400 ``validation_error`` naming the field.
    """

    field_types = JSON_FIELDS

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        declared = cls._declared_fields
        for name, field in declared.items():
            declared[name] = strict_field(field, cls.field_types, f"{cls.__qualname__}.{name}")

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError(
                    {name: [_("This field is unknown or read-only.")] for name in unknown}
                )
        return super().to_internal_value(data)


class StrictQuerySerializer(StrictSerializer):
    """For query parameters: every value is a string, and must parse exactly (``?page_size=1.0`` is 400)."""

    field_types = QUERY_FIELDS


class StrictModelSerializer(StrictSerializer, serializers.ModelSerializer):
    """The fields built from the model are made strict too (declared ones already are)."""

    def get_fields(self):
        return {
            name: strict_field(field, self.field_types, f"{type(self).__qualname__}.{name}")
            for name, field in super().get_fields().items()
        }


@extend_schema_serializer(description="所有错误响应的格式。")
class ErrorSerializer(serializers.Serializer):
    """The shape of every error response (for the OpenAPI schema)."""

    code = serializers.CharField(help_text="稳定的机器可读错误码，程序据此判断。")
    message = serializers.CharField(help_text="可直接展示给用户的说明（按 Accept-Language，默认中文）。")
    details = serializers.DictField(help_text="补充信息；校验失败时按字段列出原因。")
