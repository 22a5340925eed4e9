"""Reads for members."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.errors import NotFound
from members.models import Channel, Member, MemberToken
from members.services import token_hash


def member_by_token(token: str) -> tuple[Member, MemberToken] | None:
    record = (
        MemberToken.objects.select_related("member")
        .filter(
            key_hash=token_hash(token),
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
            member__closed_at__isnull=True,  # closure revokes tokens too; this holds if one slipped by
        )
        .first()
    )
    return (record.member, record) if record else None


#: The keys the apps above members add to the "me" page and to the operators' member overview, each
#: from its own app's selectors.  Members import none of those apps: each registers its part at startup
#: (``AppConfig.ready`` of points, stored_value, coupons and membership).  A part takes ``member_id``
#: and returns a dict.
_SUMMARY_PARTS: dict[str, Callable[..., dict]] = {}
_OVERVIEW_PARTS: dict[str, Callable[..., dict]] = {}


def member_summary_part_register(*, name: str, part: Callable[..., dict]) -> None:
    _SUMMARY_PARTS[name] = part


def member_overview_part_register(*, name: str, part: Callable[..., dict]) -> None:
    _OVERVIEW_PARTS[name] = part


def member_summary(*, member: Member) -> dict:
    """What the mini-program's "me" page shows: identity here, the rest from the registered parts
    (points, stored value, coupons)."""
    summary = {
        "id": member.pk,
        "nickname": member.nickname,
        "avatar_url": member.avatar_url,
        "phone_bound": bool(member.phone),
        "invite_code": member.invite_code,
        "registered_at": member.registered_at,
    }
    for _name, part in sorted(_SUMMARY_PARTS.items()):
        summary.update(part(member_id=member.pk))
    return summary


def member_overview(*, member: Member) -> dict:
    """The operators' overview of one member: tier, cards, points, stored value and coupons, each part
    from its own app (the registered parts)."""
    overview = {}
    for _name, part in sorted(_OVERVIEW_PARTS.items()):
        overview.update(part(member_id=member.pk))
    return overview


def member_lookup(*, openid: str | None = None, phone: str | None = None) -> Member:
    filters = {"openid": openid} if openid else {"phone": phone}
    member = Member.objects.filter(**filters).first()
    if member is None:
        raise NotFound()
    return member


# --- channels: the names operators gave the codes members arrive by ---------------------------------


def channel_names(codes: Iterable[str]) -> dict[str, str]:
    """``{code: name}`` of the named ones among ``codes``, in one query."""
    return dict(Channel.objects.filter(code__in=set(codes) - {""}).values_list("code", "name"))


def channel_label(code: str, names: dict[str, str]) -> str:
    """The channel's name; while no one has named it, its code marked so (the operator names it in 渠道)."""
    if names.get(code):
        return names[code]
    return _("%(code)s (unnamed channel)") % {"code": code} if code else ""


def channel_name_of(field: str) -> Subquery:
    """The name of the channel in ``field`` of the queried rows (``None`` when unnamed), to annotate a list."""
    return Subquery(Channel.objects.filter(code=OuterRef(field)).values("name")[:1])
