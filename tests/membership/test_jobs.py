"""The membership jobs through Celery (eager): each does its work once however often it runs."""

from datetime import date

import pytest
import time_machine
from django.utils import timezone

from coupons.models import GiftPackGrant
from coupons.services import coupon_claim
from membership import cards, tasks
from membership.models import MemberDay, Membership, MembershipCard, Tier
from membership.services import membership_record_order
from notifications.models import Notification
from tests.factories import CardTypeFactory, CouponTemplateFactory, GiftPackFactory, MemberFactory
from tests.helpers import local

pytestmark = pytest.mark.django_db


def test_every_job_runs_through_celery_and_twice_changes_nothing_more(tiers):
    # Everything at one moment of the year (a Wednesday before the birthday), so the card claimed here
    # ends within the reminder window whatever day the suite runs.
    with time_machine.travel(local(2026, 12, 2, 12), tick=True):
        member = MemberFactory(birthday=date(1990, 12, 20))
        Tier.objects.filter(level=0).update(birthday_pack=GiftPackFactory(name="生日礼包"))
        MemberDay.objects.create(name="周三", recurrence="weekly", weekday=2)
        CardTypeFactory(kind="free", validity="days", valid_days=3, monthly_pack=GiftPackFactory(name="月礼"))
        cards.card_claim(
            member_id=member.pk,
            card_type_id=CardTypeFactory(kind="free", name="x", validity="days", valid_days=3).pk,
        )
        membership_record_order(member_id=member.pk, order_no="A", paid_fen=100, completed_at=timezone.now())
        CardTypeFactory(
            kind="conditional", condition="orders", condition_threshold=1
        )  # a rule added after the order

        first = [
            tasks.recalculate_tiers.delay().get(),
            tasks.catch_up_conditional_cards.delay().get(),
            tasks.remind_expiring_cards.delay().get(),
            tasks.issue_monthly_card_coupons.delay().get(),
            tasks.run_member_days.delay().get(),
            tasks.give_birthday_gifts.delay().get(),
        ]
        snapshot = (
            GiftPackGrant.objects.count(),
            Notification.objects.count(),
            MembershipCard.objects.count(),
            list(Membership.objects.values_list("tier_level", flat=True)),
        )
        for task in (
            tasks.recalculate_tiers,
            tasks.catch_up_conditional_cards,
            tasks.remind_expiring_cards,
            tasks.issue_monthly_card_coupons,
            tasks.run_member_days,
            tasks.give_birthday_gifts,
        ):
            task.delay().get()

    assert first[0]["memberships"] == 1 and first[1] == 1 and first[2] >= 1 and first[4] == 1
    assert GiftPackGrant.objects.filter(member=member, occasion="birthday:2026").exists()
    assert (
        GiftPackGrant.objects.count(),
        Notification.objects.count(),
        MembershipCard.objects.count(),
        list(Membership.objects.values_list("tier_level", flat=True)),
    ) == snapshot


def test_tier_and_card_holder_coupon_audiences(tiers):
    gold, plain = MemberFactory(), MemberFactory()
    membership_record_order(member_id=gold.pk, order_no="A", paid_fen=500_000, completed_at=timezone.now())
    ct = CardTypeFactory(kind="free")
    holder = MemberFactory()
    cards.card_claim(member_id=holder.pk, card_type_id=ct.pk)
    common = {"kind": "amount_off", "threshold_fen": 0, "amount_off_fen": 500, "total_stock": 10}
    for_gold = CouponTemplateFactory(name="金卡券", audience="tiers", audience_values=[2, 3], **common)
    for_holders = CouponTemplateFactory(
        name="持卡券", audience="card_holders", audience_values=[ct.pk], **common
    )

    assert coupon_claim(member=gold, template_id=for_gold.pk, idempotency_key="g").template_id == for_gold.pk
    assert coupon_claim(member=holder, template_id=for_holders.pk, idempotency_key="h")
    from loyalty.errors import ApplicationError

    for member, template in ((plain, for_gold), (plain, for_holders), (gold, for_holders)):
        with pytest.raises(ApplicationError) as exc:
            coupon_claim(member=member, template_id=template.pk, idempotency_key="x")
        assert exc.value.code == "not_in_audience"
