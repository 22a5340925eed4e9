"""The API's store and staff code fields: the shape of a code, so a malformed one is a 400, not a guess."""

from rest_framework import serializers

CODE_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"


def store_code_field(help_text: str = "门店编码（取自门店二维码场景值）；未知或已闭店的门店不记录，不报错。"):
    return serializers.RegexField(
        CODE_PATTERN, max_length=32, required=False, default="", allow_blank=True, help_text=help_text
    )


def staff_code_field(help_text: str = "店员工号（取自店员二维码场景值）；未知或已停用的工号不记录，不报错。"):
    return serializers.RegexField(
        CODE_PATTERN, max_length=32, required=False, default="", allow_blank=True, help_text=help_text
    )
