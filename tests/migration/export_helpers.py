"""Members with something in every ledger, for the export tests."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.contrib.auth.models import Permission, User
from django.db import transaction
from django.utils import timezone

from analytics.models import MemberTag, MemberTagging
from coupons import services as coupon_services
from coupons.models import CouponTemplate
from members.models import Channel
from membership.cards import card_grant
from membership.models import CardType, Tier
from membership.services import membership_lock
from membership.tiers import growth_post
from stored_value.ledger import stored_value_adjust
from tests.factories import MemberFactory
from tests.factories.coupons import CouponTemplateFactory
from tests.factories.membership import CardTypeFactory
from tests.points.helpers import earn, spend

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def operator(username="ops", *perms) -> User:
    user = User.objects.create_user(username=username, password="pw", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def rich_member(*, nickname="小王", phone="13800138000", actor=None, **fields):
    """A member with two lots (one spent out), stored value, growth at tier 1, two tags, a card, two usable
    coupons and one voided."""
    Channel.objects.get_or_create(code="store1", defaults={"name": "一号店"})
    member = MemberFactory(
        nickname=nickname,
        phone=phone,
        gender=2,
        birthday=at(1995, 4, 12).date(),
        registration_channel="store1",
        **fields,
    )
    earn(member, 300, key=f"a{member.pk}", expires_at=at(2099, 1, 1))
    earn(member, 200, key=f"b{member.pk}")  # never expires
    earn(member, 50, key=f"c{member.pk}", expires_at=at(2098, 6, 1))
    spend(member, 50, key=f"s{member.pk}")  # spends the lot expiring first (2098): left out, remaining 0
    actor = actor or User.objects.filter(username="system").first() or User.objects.create_user("system")
    stored_value_adjust(
        member_id=member.pk,
        principal_fen=150_000,
        bonus_fen=15_005,
        reason="opening",
        actor_id=actor.pk,
        idempotency_key=f"sv{member.pk}",
    )
    Tier.objects.update_or_create(level=1, defaults={"name": "银卡", "growth_threshold": 100})
    with transaction.atomic():
        membership = membership_lock(member_id=member.pk)
        growth_post(
            membership=membership, kind="adjust", amount=500, idempotency_key="g", counts_at=timezone.now()
        )
        membership.tier_level = 1  # as tier_upgrade_if_due would: level 1 is reached at 100
        membership.save(update_fields=["growth_total", "tier_level"])
    for name in ("老客", "高价值"):
        tag, _ = MemberTag.objects.get_or_create(name=name)
        MemberTagging.objects.create(tag=tag, member=member)
    card_type = card_type_get()
    card_grant(member_id=member.pk, card_type_id=card_type.pk, actor_id=actor.pk, reason="vip", now=None)
    for name, until in (("满100减20", at(2099, 3, 1, 23, 59, 59)), ('=HYPERLINK("x")', at(2099, 2, 1))):
        template = template_get(name, until)
        coupon_services.coupon_issue(template=template, member_id=member.pk, source="test", issue_key="k")
    voided = template_get("作废券", at(2099, 1, 1))
    coupon, _ = coupon_services.coupon_issue(
        template=voided, member_id=member.pk, source="test", issue_key="k"
    )
    coupon_services.coupon_void(coupon_id=coupon.pk, actor_id=actor.pk, reason="test")
    return member


def card_type_get() -> CardType:
    return CardType.objects.filter(name="黑金卡").first() or CardTypeFactory(
        name="黑金卡", validity="range", valid_from=at(2026, 1, 1), valid_until=at(2099, 6, 30, 23, 59, 59)
    )


def template_get(name: str, until: datetime) -> CouponTemplate:
    return CouponTemplate.objects.filter(name=name).first() or CouponTemplateFactory(
        name=name, validity="fixed", valid_from=at(2026, 1, 1), valid_until=until, per_member_limit=5
    )
