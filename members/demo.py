"""Demo members: a year of sign-ups through the real login, growing through the year, some invited.

Each member logs in for the first time at a moment of the year (``arrivals``), so
the sign-up points and the new-member gift pack are given that day by the login
itself; the profile they fill in is then saved as the mini-program would.
"""

import random
from datetime import date, datetime, timedelta

from django.utils import timezone

from members.closure import member_close
from members.models import Channel, Member
from members.services import member_login
from members.wechat import WechatSessionInfo

#: Where members come from on an ordinary day (weights); campaigns add their own channel.
CHANNELS = {
    "mini_program": 30,
    "qr:store-01": 20,
    "qr:store-02": 14,
    "invite": 14,
    "wechat_ad": 10,
    "poster:spring": 4,
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟 芳 娜 敏 静 磊 洋 艳 勇 军 杰 娟 涛 明 超 秀英 霞 平".split()
#: Sign-ups by hour of the day (weights, 0-23): lunch and the evening.
HOURS = [1, 0, 0, 0, 0, 0, 1, 2, 4, 6, 7, 8, 10, 9, 6, 6, 6, 7, 9, 11, 12, 10, 6, 3]


def campaigns(day: date) -> dict[str, float]:
    """The sign-up campaigns running on ``day``: channel -> how many times the usual sign-ups it brings.

    The spring poster (March to mid-April) and the 双11 ads (1-11 November), every year.
    """
    running = {}
    if date(day.year, 3, 1) <= day <= date(day.year, 4, 15):
        running["poster:spring"] = 0.8
    if date(day.year, 11, 1) <= day <= date(day.year, 11, 11):
        running["wechat_ad"] = 1.5
    return running


def arrivals(*, count: int, start: datetime, end: datetime, rng: random.Random) -> list[datetime]:
    """``count`` sign-up moments in ``start``..``end``, sorted: about three times as many a day at the end
    of the year as at its start, a third more at weekends, and more while a campaign runs."""
    first = timezone.localdate(start)
    days = [first + timedelta(days=n) for n in range((timezone.localdate(end) - first).days + 1)]
    weights = []
    for n, day in enumerate(days):
        weight = (0.35 + 0.65 * n / max(len(days) - 1, 1)) * (1.3 if day.weekday() >= 5 else 1.0)
        weights.append(weight * (1 + sum(campaigns(day).values())))
    moments = [start + timedelta(hours=rng.uniform(1, 8))] if count else []  # the first, on the first day
    while len(moments) < count:
        day = rng.choices(days, weights=weights)[0]
        hour = rng.choices(range(24), weights=HOURS)[0]
        moment = timezone.make_aware(datetime.combine(day, datetime.min.time())) + timedelta(
            hours=hour, seconds=rng.randrange(3600)
        )
        if start <= moment < end:
            moments.append(moment)
    return sorted(moments)


def member_register(*, n: int, rng: random.Random, inviters: list[Member]) -> Member:
    """Demo member ``n`` logs in for the first time now, through a campaign's or the day's usual channel.

    An invited member uses an earlier member's invite code (the inviter is rewarded at the first order).
    """
    running = campaigns(timezone.localdate())
    channels = {**CHANNELS, **{c: CHANNELS[c] + w * sum(CHANNELS.values()) for c, w in running.items()}}
    channel = rng.choices(list(channels), weights=list(channels.values()))[0]
    invite_code = ""
    if channel == "invite":  # the very first member has nobody to invite them
        invite_code = rng.choice(inviters).invite_code if inviters else ""
        channel = channel if inviters else "mini_program"
    session = WechatSessionInfo(
        openid=f"demo_{n:05d}", unionid="", session_key=f"{rng.randrange(16**24):024x}"
    )
    member = member_login(session=session, channel=channel, invite_code=invite_code).member
    # The profile the member fills in on the mini-program's 我的 page.
    member.nickname = rng.choice(SURNAMES) + rng.choice(GIVEN)
    member.phone = f"139{n:08d}" if rng.random() < 0.6 else ""
    member.gender = rng.choice([0, 1, 2, 2])
    if rng.random() < 0.7:
        member.birthday = date(rng.randint(1970, 2004), rng.randint(1, 12), rng.randint(1, 28))
    member.save(update_fields=["nickname", "phone", "gender", "birthday"])
    return member


def lifetime(rng: random.Random, *, loyal: bool = False) -> timedelta:
    """How long a new member keeps coming: a quarter stay all year (and the loyal one); the others
    drift away after some weeks or months (the 沉睡会员 of the segments)."""
    if loyal or rng.random() < 0.25:
        return timedelta(days=3650)
    return timedelta(days=20 + rng.expovariate(1 / 150))


def closing_member_register(*, n: int) -> Member:
    """A member who will close the account (注销) later: signs up like the others (points, gift pack)."""
    session = WechatSessionInfo(openid=f"demo_closing_{n}", unionid="", session_key=f"{n:024x}")
    member = member_login(session=session, channel="mini_program").member
    member.nickname = f"注销演示{n + 1}"
    member.save(update_fields=["nickname"])
    return member


def plan_closures(timeline, *, count: int, rng: random.Random) -> None:
    """``count`` members who sign up in the first months and close their account (注销) weeks later."""
    for n in range(count):
        joined = timeline.start + timedelta(days=rng.uniform(20, 240), hours=rng.uniform(9, 21))
        closing = {}
        timeline.at(joined, lambda n=n, closing=closing: closing.update(member=closing_member_register(n=n)))
        timeline.at(
            joined + timedelta(days=rng.uniform(20, 90)),
            lambda closing=closing: member_close(member_id=closing["member"].pk),
        )


#: The names the demo's operators gave its channels (``CHANNELS``, and the card posters' channels).
CHANNEL_NAMES = [
    ("mini_program", "小程序自然流量", Channel.Kind.ORGANIC),
    ("qr:store-01", "门店码·一号店", Channel.Kind.STORE_QR),
    ("qr:store-02", "门店码·二号店", Channel.Kind.STORE_QR),
    ("poster:spring", "春季海报", Channel.Kind.POSTER),
    ("invite", "好友邀请", Channel.Kind.INVITE),
    ("wechat_ad", "朋友圈广告", Channel.Kind.AD),
]


def seed_channels() -> int:
    """Name the demo's channels (members.Channel); returns how many were added."""
    existing = set(Channel.objects.values_list("code", flat=True))
    added = [
        Channel(code=code, name=name, kind=kind) for code, name, kind in CHANNEL_NAMES if code not in existing
    ]
    Channel.objects.bulk_create(added)
    return len(added)
