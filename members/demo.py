"""Demo members: a year of sign-ups across channels, some invited by others."""

import random
from datetime import date, timedelta

from django.utils import timezone

from members.closure import member_close
from members.models import Channel, Member
from points.ledger import points_earn

CHANNELS = ["mini_program", "qr:store-01", "qr:store-02", "poster:spring", "invite", "wechat_ad"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
]


def seed_members(*, count: int, rng: random.Random) -> int:
    """Create demo members up to ``count``; returns how many were added (0 when already there)."""
    existing = Member.objects.filter(openid__startswith="demo_").count()
    if existing >= count:
        return 0
    now = timezone.now()
    members = []
    for n in range(existing, count):
        members.append(
            Member(
                openid=f"demo_{n:05d}",
                nickname=rng.choice(SURNAMES) + rng.choice(GIVEN),
                phone=f"139{n:08d}" if rng.random() < 0.6 else "",
                gender=rng.choice([0, 1, 2, 2]),
                birthday=date(rng.randint(1970, 2004), rng.randint(1, 12), rng.randint(1, 28))
                if rng.random() < 0.7
                else None,
                registration_channel=rng.choice(CHANNELS),
                invite_code=f"DEMO{n:05d}",
            )
        )
    created = Member.objects.bulk_create(members)
    # registered_at is auto_now_add; spread sign-ups over the past year afterwards.
    for member in created:
        member.registered_at = now - timedelta(days=rng.randint(0, 365), minutes=rng.randint(0, 1440))
        if member.registration_channel == "invite" and member.pk > created[0].pk:
            member.referrer_id = rng.randint(created[0].pk, member.pk - 1)
    Member.objects.bulk_update(created, ["registered_at", "referrer"], batch_size=500)
    return len(created)


def seed_closures(*, count: int = 3) -> int:
    """A few members who signed up, earned points and closed their account (注销), for the closed-accounts list.

    They are extra members (the demo's own stay open), so re-running ``seed_members`` never recreates them.
    """
    if Member.objects.filter(closed_at__isnull=False).exists():
        return 0
    for n in range(count):
        member = Member.objects.create(
            openid=f"demo_closing_{n}", nickname=f"注销演示{n + 1}", registration_channel="mini_program"
        )
        points_earn(
            member_id=member.pk,
            amount=100 * (n + 1),
            idempotency_key="demo-signup",
            source="demo",
            expires_at=None,
        )
        member_close(member_id=member.pk)
    return count


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
