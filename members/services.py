"""Writes for members: login, sessions, profile and phone binding."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty import crypto, locks
from loyalty.locks import Rank
from members import events
from members.exceptions import BirthdayChangeLimited, PhoneTaken, ReferrerNotFound
from members.models import Channel, Member, MemberToken, WechatSession
from members.share_scenes import share_scene_attribution
from members.wechat import WechatClient, WechatSessionInfo
from stores.selectors import attribution


@dataclass(frozen=True)
class LoginResult:
    member: Member
    token: str
    expires_at: timezone.datetime
    created: bool


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def member_token_issue(*, member: Member) -> tuple[str, MemberToken]:
    token = secrets.token_urlsafe(32)
    record = MemberToken.objects.create(
        member=member, key_hash=token_hash(token), expires_at=timezone.now() + settings.MEMBER_TOKEN_TTL
    )
    return token, record


def member_token_revoke(*, token_id: int) -> None:
    MemberToken.objects.filter(pk=token_id, revoked_at__isnull=True).update(revoked_at=timezone.now())


def channel_ensure(*, code: str, name: str, kind: str) -> Channel:
    """The channel ``code`` named ``name``, created if no one has named it yet; a name an operator gave
    it is kept (an app above names the channels of what it shares: a 拼团 activity's ``groupbuy:3``)."""
    channel, _created = Channel.objects.get_or_create(
        code=code[:64], defaults={"name": name[:60], "kind": kind}
    )
    return channel


def _resolve_referrer(invite_code: str) -> Member | None:
    if not invite_code:
        return None
    referrer = Member.objects.filter(invite_code=invite_code.upper()).first()
    if referrer is None:
        raise ReferrerNotFound()
    return referrer


INVITE_CODE_DRAWS = 8


def member_create(**values) -> Member:
    """A new member, with a fresh invite code drawn again when the one drawn is taken: 8 random hex
    characters collide about a hundred times in a million members, and a random collision must not
    fail a sign-up or an imported row.  Any other refusal (an openid or phone taken since) is raised."""
    for _draw in range(INVITE_CODE_DRAWS - 1):
        code = Member._meta.get_field("invite_code").default()
        try:
            with transaction.atomic():
                return Member.objects.create(invite_code=code, **values)
        except IntegrityError:
            if not Member.objects.filter(invite_code=code).exists():
                raise
    return Member.objects.create(invite_code=Member._meta.get_field("invite_code").default(), **values)


@transaction.atomic
def member_login(
    *,
    session: WechatSessionInfo,
    channel: str = "",
    invite_code: str = "",
    store_code: str = "",
    staff_code: str = "",
    poster_scene: str = "",
) -> LoginResult:
    """Find or create the member for an openid and open a session.

    Idempotent per openid: concurrent first logins create one member (the
    unique openid decides; the loser re-reads).  The registration channel and
    referrer are set only when the member is created, never changed later;
    so are the store of registration (also the first home store) and the
    staff member who brought them, from a store's or a clerk's QR code
    (unknown codes are ignored: ``stores.selectors.attribution``);
    so are the sign-up points and the new-member gift pack, in the
    transaction that creates the member (only the creator gives them).
    A poster's scene (``poster_scene``) that resolves gives the channel and the
    referrer instead of ``channel`` and ``invite_code`` (``members.share_scenes``);
    an unknown one is ignored, like an unknown store code.
    """
    shared = share_scene_attribution(poster_scene)
    if shared is not None:
        channel = shared.channel
        referrer = Member.objects.filter(pk=shared.referrer_id).first()
    else:
        referrer = _resolve_referrer(invite_code)
    where = attribution(store_code=store_code, staff_code=staff_code)
    member, created = Member.objects.filter(openid=session.openid).first(), False
    if member is None:
        try:
            with transaction.atomic():
                member, created = (
                    member_create(
                        openid=session.openid,
                        unionid=session.unionid,
                        registration_channel=channel[:64],
                        referrer=referrer,
                        registration_store_id=where.store_id,
                        home_store_id=where.store_id,
                        registration_staff_id=where.staff_id,
                    ),
                    True,
                )
        except IntegrityError:  # a concurrent first login of the same openid created it
            member = Member.objects.get(openid=session.openid)
    if created:
        events.member_event_tell(event=events.CREATED, member_id=member.pk)  # sign-up points, new-member gift
    elif session.unionid and member.unionid != session.unionid:
        member.unionid = session.unionid
        member.save(update_fields=["unionid"])
    WechatSession.objects.update_or_create(
        member=member, defaults={"session_key_encrypted": crypto.encrypt(session.session_key)}
    )
    token, record = member_token_issue(member=member)
    return LoginResult(member=member, token=token, expires_at=record.expires_at, created=created)


def member_login_wechat(*, code: str, **registration) -> LoginResult:
    """``wx.login`` code -> code2session -> member -> API token.

    WeChat is called before any transaction opens, so a slow WeChat never
    holds database locks.
    """
    session = WechatClient.from_settings().code_to_session(code)
    return member_login(session=session, **registration)


def member_login_dev(*, code: str, channel: str = "", **registration) -> LoginResult:
    """Development login: the same code always gives the same openid (DEBUG + WECHAT_DEV_LOGIN only)."""
    digest = hashlib.sha256(code.encode()).hexdigest()
    session = WechatSessionInfo(openid=f"dev_{digest[:24]}", unionid="", session_key=secrets.token_hex(12))
    return member_login(session=session, channel=channel or "dev", **registration)


@transaction.atomic
def member_update_profile(
    *,
    member: Member,
    nickname: str | None = None,
    avatar_url: str | None = None,
    gender: int | None = None,
    birthday: date | None = None,
) -> Member:
    changes = {
        name: value
        for name, value in {
            "nickname": nickname,
            "avatar_url": avatar_url,
            "gender": gender,
            "birthday": birthday,
        }.items()
        if value is not None
    }
    if "birthday" in changes:
        _check_birthday_change(member, changes)
    for name, value in changes.items():
        setattr(member, name, value)
    if changes:
        member.save(update_fields=list(changes))
        _award_if_profile_complete(member)
    return member


BIRTHDAY_CHANGE_INTERVAL = timedelta(days=365)


def _check_birthday_change(member: Member, changes: dict) -> None:
    """Setting a birthday is free; changing it is allowed once per 365 days (birthday gifts must not be farmed)."""
    locks.note(Rank.MEMBER, "member (birthday)")
    current = (
        Member.objects.select_for_update(no_key=True)
        .filter(pk=member.pk)
        .values("birthday", "birthday_changed_at")[0]
    )
    if current["birthday"] is None or current["birthday"] == changes["birthday"]:
        return
    now = timezone.now()
    changed_at = current["birthday_changed_at"]
    if changed_at is not None and now - changed_at < BIRTHDAY_CHANGE_INTERVAL:
        raise BirthdayChangeLimited(
            details={"next_change_after": (changed_at + BIRTHDAY_CHANGE_INTERVAL).isoformat()}
        )
    changes["birthday_changed_at"] = now


def _award_if_profile_complete(member: Member) -> None:
    """Tell the apps above (profile-completion points) once it is complete; their keys make a repeat a no-op."""
    if all([member.nickname, member.avatar_url, member.birthday, member.phone]):
        events.member_event_tell(event=events.PROFILE_COMPLETED, member_id=member.pk)


def member_bind_phone(*, member: Member, code: str) -> Member:
    """Bind the phone WeChat returns for a ``getPhoneNumber`` code.

    A phone belongs to one member; binding it to a second is refused with
    ``phone_taken`` and nothing changes.
    """
    phone = WechatClient.from_settings().phone_number(code)
    if Member.objects.filter(phone=phone).exclude(pk=member.pk).exists():
        raise PhoneTaken()
    with transaction.atomic():
        try:
            with transaction.atomic():
                Member.objects.filter(pk=member.pk).update(phone=phone)
        except IntegrityError:  # bound by someone else between the check and the write
            raise PhoneTaken() from None
        member.phone = phone
        # the sign-up reward is paid once per phone (points)
        events.member_event_tell(event=events.PHONE_BOUND, member_id=member.pk, phone=phone)
        _award_if_profile_complete(member)
    return member
