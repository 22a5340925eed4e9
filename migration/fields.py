"""The fields a file's columns can be mapped to, how each cell is read, and the headers guessed for each.

One row of the file is one member with what is owed to them: up to three points lots (each its amount
and expiry; a points balance with one expiry is lot 1), stored value as principal and bonus (or a
total, split by the job's policy), a membership card and a kind of unused coupon.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.utils.translation import gettext_lazy as _

from migration import parsing

LOTS = 3


@dataclass(frozen=True)
class Field:
    key: str
    label: object
    parse: Callable[[str], object]
    headers: tuple[str, ...] = ()  # headers (lower case) an old system writes for it


def _iso(parse):
    return lambda text: parse(text).isoformat()


FIELDS: list[Field] = [
    Field("openid", _("openid"), parsing.parse_wechat_id, ("openid", "open_id", "微信openid")),
    Field("unionid", _("unionid"), parsing.parse_wechat_id, ("unionid", "union_id")),
    Field(
        "phone", _("phone"), parsing.parse_phone, ("手机号", "手机", "手机号码", "电话", "phone", "mobile")
    ),
    Field(
        "nickname",
        _("nickname"),
        partial(parsing.parse_text, most=64),
        ("昵称", "姓名", "会员姓名", "nickname", "name"),
    ),
    Field("gender", _("gender"), parsing.parse_gender, ("性别", "gender", "sex")),
    Field("birthday", _("birthday"), _iso(parsing.parse_date), ("生日", "出生日期", "birthday")),
    Field(
        "registered_at",
        _("registered at"),
        _iso(parsing.parse_datetime),
        ("注册时间", "开卡时间", "入会时间", "registered_at"),
    ),
    Field(
        "channel",
        _("registration channel"),
        partial(parsing.parse_text, most=64),
        ("渠道", "来源", "注册渠道"),
    ),
    Field(
        "tier", _("tier (name or level)"), partial(parsing.parse_text, most=30), ("等级", "会员等级", "tier")
    ),
    Field("growth", _("growth value"), parsing.parse_points, ("成长值", "growth")),
    Field("tags", _("tags"), parsing.parse_list, ("标签", "会员标签", "tags")),
    *[
        field
        for n in range(1, LOTS + 1)
        for field in (
            Field(
                f"points_{n}",
                _("points lot %(n)s") % {"n": n} if n > 1 else _("points (lot 1 or the balance)"),
                parsing.parse_points,
                (f"积分{n}", f"积分批次{n}") + (("积分", "积分余额", "可用积分", "points") if n == 1 else ()),
            ),
            Field(
                f"points_{n}_expires",
                _("points lot %(n)s expires") % {"n": n},
                _iso(parsing.parse_datetime),
                (f"积分{n}到期", f"积分{n}有效期")
                + (("积分到期", "积分到期时间", "积分有效期") if n == 1 else ()),
            ),
        )
    ],
    Field(
        "principal", _("stored value: principal (元)"), parsing.parse_fen, ("储值本金", "本金", "充值余额")
    ),
    Field("bonus", _("stored value: bonus (元)"), parsing.parse_fen, ("赠送金额", "赠金", "赠送余额")),
    Field("stored_total", _("stored value: total (元)"), parsing.parse_fen, ("储值余额", "余额", "储值总额")),
    Field(
        "card_type",
        _("membership card (type name)"),
        partial(parsing.parse_text, most=60),
        ("会员卡", "卡类型"),
    ),
    Field(
        "card_valid_until",
        _("membership card valid until"),
        _iso(parsing.parse_datetime),
        ("会员卡有效期", "卡有效期", "会员卡到期"),
    ),
    Field(
        "coupon_template",
        _("unused coupon (template name)"),
        partial(parsing.parse_text, most=60),
        ("优惠券", "未使用优惠券", "券名称"),
    ),
    Field(
        "coupon_count", _("unused coupons: how many"), parsing.parse_points, ("优惠券数量", "券数量", "张数")
    ),
    Field(
        "coupon_valid_until",
        _("unused coupons valid until"),
        _iso(parsing.parse_datetime),
        ("优惠券有效期", "券有效期", "券到期"),
    ),
]

BY_KEY = {field.key: field for field in FIELDS}


def choices() -> list[tuple[str, object]]:
    return [("", _("(not imported)"))] + [(field.key, field.label) for field in FIELDS]


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """Each header's field when its name is one old systems use, each field at most once."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        name = header.strip().lower()
        for field in FIELDS:
            if field.key not in taken and (name == field.key or name in field.headers):
                mapping[header] = field.key
                taken.add(field.key)
                break
    return mapping
