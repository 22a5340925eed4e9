"""Share posters: a PNG with the sharer, what they share and a mini-program code that credits them.

A member may share their own open 拼团 group (a place paid in it) or their own open 砍价 bargain, an
item on sale in the mall, a card type on offer, or the shop.  The code comes from WeChat
(``wxacode.getUnlimited``) with a ``scene``: a random code of a ``PosterScene`` row naming the sharer
and the target, made when the sharer first asks.  A friend who registers from it is attributed to the
sharer and the target's channel (``scene_attribution``, which members asks at login), so the invite
rewards and their limits apply as for any invitation; a scene cannot be written to credit someone else.

Costs: one WeChat call per scene (the code image is cached by scene; the code never expires), then a
drawing per poster, cached under a key of everything drawn (a price or a count that changes draws
anew).  WeChat is called outside any transaction.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import string
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image

from growth import attribution
from growth.exceptions import PosterSceneNotFound, PosterTargetNotFound
from growth.models import HOLDING_STATUSES, Bargain, BargainState, Group, GroupState, PosterKind, PosterScene
from growth.poster_art import PosterText, poster_draw, poster_fonts_check
from loyalty.money import format_fen
from mall.selectors import items_on_sale
from members.exceptions import WechatUnavailable
from members.models import Channel, Member
from members.services import channel_ensure
from members.share_scenes import SceneAttribution
from members.wechat import WechatClient
from membership.cards import type_available
from membership.models import CardKind, CardType

# Bump when the drawing changes, so posters cached before are drawn anew.
DRAWING_VERSION = 1
SCENE_ALPHABET = string.ascii_letters + string.digits
SCENE_LENGTH = 12  # 71 random bits: not guessable, well inside WeChat's 32 characters
CODE_WIDTH = 430
MAX_PICTURE_BYTES = 5 * 1024 * 1024
MAX_PICTURE_PIXELS = 25_000_000

ITEM_PAGE = "pages/mall/item"
CARD_PAGE = "pages/membership/claim"
SHOP_PAGE = "pages/index/index"
PAGES = {
    PosterKind.GROUP: attribution.GROUP_PAGE,
    PosterKind.BARGAIN: attribution.BARGAIN_PAGE,
    PosterKind.ITEM: ITEM_PAGE,
    PosterKind.CARD: CARD_PAGE,
    PosterKind.SHOP: SHOP_PAGE,
}
_GROUP_COLOUR, _BARGAIN_COLOUR, _MALL_COLOUR = "#E53935", "#F4511E", "#3949AB"

# One pooled client for the pictures (avatars, item images), as members.wechat has for WeChat.
_http = httpx.Client()


@dataclass(frozen=True)
class Subject:
    """What a poster shares: its page and channel, and what it says."""

    kind: str
    target_id: int
    channel: str
    channel_name: str
    channel_kind: str
    text: PosterText
    image_url: str


# --- what a member may share ---------------------------------------------------------------------------


def _deadline(at) -> str:
    local = timezone.localtime(at)
    return f"{local.month}月{local.day}日 {local:%H:%M} 截止"


def _group(member: Member, group_id: int, base: dict) -> Subject | None:
    """A group still open in which the member holds a paid place (the leader's or a joiner's)."""
    group = (
        Group.objects.select_related("activity__item")
        .filter(
            pk=group_id,
            state=GroupState.OPEN,
            places__member_id=member.pk,
            places__status__in=HOLDING_STATUSES,
        )
        .first()
    )
    if group is None:
        return None
    activity = group.activity
    return Subject(
        kind=PosterKind.GROUP,
        target_id=group.pk,
        channel=attribution.group_buy_channel(activity.pk),
        channel_name=activity.name,
        channel_kind=Channel.Kind.INVITE,
        image_url=activity.item.image_url,
        text=PosterText(
            **base,
            invitation="邀请你一起拼团",
            title=activity.item.name,
            price=f"拼团价 {format_fen(group.price_fen)}",
            struck_price=f"原价 {format_fen(activity.original_price_fen)}",
            hint=f"{group.size}人团 · 还差{max(group.size - group.joined_count, 0)}人 · {_deadline(group.deadline)}",
            accent=_GROUP_COLOUR,
        ),
    )


def _bargain(member: Member, bargain_id: int, base: dict) -> Subject | None:
    """The member's own bargain, still being cut."""
    bargain = (
        Bargain.objects.select_related("activity__item")
        .filter(pk=bargain_id, member_id=member.pk, state=BargainState.OPEN)
        .first()
    )
    if bargain is None:
        return None
    activity = bargain.activity
    return Subject(
        kind=PosterKind.BARGAIN,
        target_id=bargain.pk,
        channel=attribution.bargain_channel(activity.pk),
        channel_name=activity.name,
        channel_kind=Channel.Kind.INVITE,
        image_url=activity.item.image_url,
        text=PosterText(
            **base,
            invitation="帮我砍一刀，一起拿低价",
            title=activity.item.name,
            price=f"最低 {format_fen(bargain.floor_price_fen)}",
            struck_price=f"原价 {format_fen(bargain.original_price_fen)}",
            hint=f"已砍到 {format_fen(bargain.price_fen)} · {_deadline(bargain.deadline)}",
            accent=_BARGAIN_COLOUR,
        ),
    )


def _item(member: Member, item_id: int, base: dict) -> Subject | None:
    item = items_on_sale().filter(pk=item_id).first()
    if item is None:
        return None
    price = f"{item.points:,} 积分" + (f" + {format_fen(item.cash_fen)}" if item.cash_fen else "")
    return Subject(
        kind=PosterKind.ITEM,
        target_id=item.pk,
        channel=f"poster:item:{item.pk}",
        channel_name=f"海报·{item.name}",
        channel_kind=Channel.Kind.POSTER,
        image_url=item.image_url,
        text=PosterText(
            **base,
            invitation="给你推荐积分商城的好物",
            title=item.name,
            price=price,
            struck_price="",
            hint="会员积分兑换 · 注册即可领积分",
            accent=_MALL_COLOUR,
        ),
    )


_PERIODS = {"month": "月", "quarter": "季", "year": "年"}


def _card(member: Member, card_type_id: int, base: dict) -> Subject | None:
    card_type = CardType.objects.filter(pk=card_type_id, is_active=True).first()
    if card_type is None or not type_available(card_type, timezone.now()):
        return None
    if card_type.kind == CardKind.PAID:
        price = f"{format_fen(card_type.price_fen)} / {_PERIODS.get(card_type.period, '期')}"
    elif card_type.kind == CardKind.FREE:
        price = "免费领取"
    else:
        price = "达标即可领取"
    colour = (
        card_type.colour if len(card_type.colour) == 7 and card_type.colour.startswith("#") else "#1F2937"
    )
    return Subject(
        kind=PosterKind.CARD,
        target_id=card_type.pk,
        channel=f"poster:card:{card_type.pk}",
        channel_name=f"海报·{card_type.name}",
        channel_kind=Channel.Kind.POSTER,
        image_url=card_type.background_image,
        text=PosterText(
            **base,
            invitation="邀请你领取会员卡",
            title=card_type.name,
            price=price,
            struck_price="",
            hint="会员专享权益",
            accent=colour,
        ),
    )


def _shop(member: Member, _target_id: int, base: dict) -> Subject:
    return Subject(
        kind=PosterKind.SHOP,
        target_id=0,
        channel="poster:shop",
        channel_name="海报·店铺",
        channel_kind=Channel.Kind.POSTER,
        image_url="",
        text=PosterText(
            **base,
            invitation="邀请你成为会员",
            title=settings.POSTER_SHOP_NAME,
            price="注册即享新人礼",
            struck_price="",
            hint="积分、优惠券、会员价",
            accent=_GROUP_COLOUR,
        ),
    )


_SUBJECTS = {
    PosterKind.GROUP: _group,
    PosterKind.BARGAIN: _bargain,
    PosterKind.ITEM: _item,
    PosterKind.CARD: _card,
    PosterKind.SHOP: _shop,
}


def poster_subject(*, member: Member, kind: str, target_id: int | None) -> Subject:
    """What ``member`` may share of ``kind`` ``target_id``; anything else is ``PosterTargetNotFound``."""
    if kind != PosterKind.SHOP and target_id is None:
        raise PosterTargetNotFound(details={"id": "required"})
    base = {"sharer": member.nickname, "footer": settings.POSTER_SHOP_NAME}
    subject = _SUBJECTS[kind](member, target_id or 0, base)
    if subject is None:
        raise PosterTargetNotFound()
    return subject


# --- scenes -------------------------------------------------------------------------------------------


def _new_scene_code() -> str:
    return "".join(secrets.choice(SCENE_ALPHABET) for _ in range(SCENE_LENGTH))


def poster_scene_ensure(*, member_id: int, subject: Subject) -> PosterScene:
    """The sharer's scene for this target, made on first use (and its channel named for the operators).

    Idempotent: one row per sharer and target (a unique constraint; of two first requests at once, the
    second reads the first's row).
    """
    found = PosterScene.objects.filter(member_id=member_id, kind=subject.kind, target_id=subject.target_id)
    scene = found.first()
    if scene is not None:
        return scene
    try:
        with transaction.atomic():
            scene = PosterScene.objects.create(
                code=_new_scene_code(),
                member_id=member_id,
                kind=subject.kind,
                target_id=subject.target_id,
                channel=subject.channel,
            )
            channel_ensure(code=subject.channel, name=subject.channel_name, kind=subject.channel_kind)
    except IntegrityError:
        return found.get()
    return scene


def scene_attribution(code: str) -> SceneAttribution | None:
    """The channel and sharer a poster's scene credits (members asks at login: ``members.share_scenes``).

    A closed account's posters credit no one, as its invite code names no one (``members.closure``).
    """
    row = (
        PosterScene.objects.filter(code=code, member__closed_at__isnull=True)
        .values("channel", "member_id")
        .first()
    )
    return SceneAttribution(channel=row["channel"], referrer_id=row["member_id"]) if row else None


def poster_scene_resolve(*, code: str) -> dict:
    """Where a poster's code leads: the page and target the mini-program opens, and who shared it."""
    scene = (
        PosterScene.objects.select_related("member").filter(code=code, member__closed_at__isnull=True).first()
    )
    if scene is None:
        raise PosterSceneNotFound()
    page = PAGES[scene.kind]
    target_id = scene.target_id if scene.kind != PosterKind.SHOP else None
    return {
        "kind": scene.kind,
        "target_id": target_id,
        "path": page if target_id is None else f"{page}?id={target_id}",
        "channel": scene.channel,
        "sharer_nickname": scene.member.nickname,
        "sharer_avatar_url": scene.member.avatar_url,
    }


# --- pictures -----------------------------------------------------------------------------------------


def _mini_program_code(*, scene: str, page: str) -> bytes:
    """The code image for ``scene``: from the cache, else from WeChat once (and checked to be an image)."""
    key = f"growth:wxacode:{scene}"
    image = cache.get(key)
    if image is None:
        image = WechatClient.from_settings().mini_program_code(scene=scene, page=page, width=CODE_WIDTH)
        try:
            Image.open(io.BytesIO(image)).verify()
        except (OSError, SyntaxError, Image.DecompressionBombError):
            raise WechatUnavailable(details={"reason": "invalid_response"}) from None
        cache.set(key, image, settings.WXACODE_CACHE_SECONDS)
    return image


def _picture(url: str) -> Image.Image | None:
    """A picture from one of ``POSTER_IMAGE_HOSTS`` (never an address a member typed), or None.

    A picture that cannot be had (another host, slow, too big, not an image) leaves the poster without
    it rather than failing it: the avatar becomes the name's first character, the item its name.
    """
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in settings.POSTER_IMAGE_HOSTS:
        return None
    try:
        with _http.stream("GET", url, timeout=settings.POSTER_IMAGE_TIMEOUT_SECONDS) as response:
            if response.status_code != 200:
                return None
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_PICTURE_BYTES:
                    return None
        picture = Image.open(io.BytesIO(bytes(data)))
        if picture.width * picture.height > MAX_PICTURE_PIXELS:
            return None
        picture.draft("RGB", (800, 800))  # a JPEG decodes at a fraction of its size: enough for 670 px
        picture.load()
        return picture
    except (httpx.HTTPError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


# --- the poster ---------------------------------------------------------------------------------------


def poster_png(*, member: Member, kind: str, target_id: int | None) -> bytes:
    """The share poster of ``kind`` ``target_id`` for ``member``, as PNG bytes.

    Refused, with nothing written: a target the member may not share (``poster_target_not_found``),
    no CJK font (``poster_font_missing``).  WeChat down or refusing is ``wechat_unavailable`` or
    ``wxacode_refused``; the scene row stays (it is the same on the next try).
    """
    subject = poster_subject(member=member, kind=kind, target_id=target_id)
    fonts = poster_fonts_check(settings.POSTER_FONT_PATH, settings.POSTER_BOLD_FONT_PATH)
    scene = poster_scene_ensure(member_id=member.pk, subject=subject)
    drawn = json.dumps(
        [DRAWING_VERSION, scene.code, asdict(subject.text), subject.image_url, member.avatar_url],
        ensure_ascii=False,
    )
    key = "growth:poster:" + hashlib.sha256(drawn.encode()).hexdigest()
    if settings.POSTER_CACHE_SECONDS and (png := cache.get(key)) is not None:
        return png
    code = _mini_program_code(scene=scene.code, page=PAGES[subject.kind])
    png = poster_draw(
        text=subject.text,
        code=Image.open(io.BytesIO(code)),
        avatar=_picture(member.avatar_url),
        picture=_picture(subject.image_url),
        font_paths=fonts,
    )
    if settings.POSTER_CACHE_SECONDS:
        cache.set(key, png, settings.POSTER_CACHE_SECONDS)
    return png
