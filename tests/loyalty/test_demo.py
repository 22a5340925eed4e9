import io
from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command
from django.db import models
from django.db.models import Max, Min
from django.utils import timezone

from coupons.models import CouponEvent, CouponTemplate, GiftPackGrant
from loyalty.management.commands.verify_ledgers import find_violations
from mall.models import MallItem, Redemption, VirtualCode
from members.models import Channel, Member
from membership.models import CardEvent, CardType, GrowthEntry, MemberDay, MembershipCard, TierChange
from notifications.models import SubscribeConsent, WechatTemplate
from orders.models import OrderEvent
from points.models import CheckIn, PointsAccount, PointsEntry
from stored_value.models import RechargeOrder, RechargePlan, StoredValueAccount, StoredValueEntry
from tests.helpers import assert_ledgers_consistent, local

pytestmark = pytest.mark.django_db

# The demo's year ends when it is seeded; a fixed day keeps its calendar (weekdays, 双11) the same.
SEEDED_AT = local(2026, 12, 4, 20, 0)


@pytest.fixture(autouse=True)
def seeded_on_a_fixed_day(settings, tmp_path):
    settings.BASE_DIR = tmp_path  # the demo API client file goes here
    with time_machine.travel(SEEDED_AT):
        yield


def test_the_demo_pays_recharges_through_the_fake_wechat_pay_once():
    call_command("seed_demo", "--members", "40", stdout=io.StringIO())
    call_command("seed_demo", "--members", "40", stdout=io.StringIO())

    assert RechargePlan.objects.count() == 3
    assert (
        CouponTemplate.objects.count() == 9
    )  # one for the mall, one 双11, one running now, one for 拼团 and 砍价
    # Each sign-up's new-member pack, the three who closed their account since included.
    assert GiftPackGrant.objects.count() == Member.objects.count() == 43
    assert (
        PointsEntry.objects.filter(source="purchase").exists()
        and PointsEntry.objects.filter(kind="spend").exists()
        and PointsEntry.objects.filter(kind="expire").exists()
    )
    assert RechargeOrder.objects.count() >= 5
    assert set(RechargeOrder.objects.values_list("status", flat=True)) <= {"credited", "refunded"}
    assert RechargeOrder.objects.filter(status="credited").exists()
    assert WechatTemplate.objects.count() == 2 and SubscribeConsent.objects.exists()
    closed = Member.objects.filter(closed_at__isnull=False)
    assert closed.count() == 3 and set(closed.values_list("nickname", "phone")) == {("", "")}
    assert TierChange.objects.exists() and MembershipCard.objects.filter(source="condition").exists()
    assert MemberDay.objects.count() == 2 and CardType.objects.count() == 3
    assert set(MallItem.objects.values_list("kind", flat=True)) == {"physical", "coupon", "virtual_code"}
    assert MallItem.objects.filter(cash_fen__gt=0).exists()
    assert Redemption.objects.count() >= 10 and Redemption.objects.filter(status="fulfilled").exists()
    assert_ledgers_consistent()


def test_every_code_the_demo_writes_has_a_label(settings, tmp_path):
    """Each column with choices (closed sets, and the registries of loyalty/labels.py) knows every code the
    services wrote: an unknown one would show as "-" in the admin."""
    settings.BASE_DIR = tmp_path
    call_command("seed_demo", "--members", "20", stdout=io.StringIO())

    unlabelled = {}
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if field.choices and isinstance(field, models.CharField) and model._meta.managed:
                known = {value for value, _label in field.flatchoices}
                used = set(
                    model._default_manager.exclude(**{field.name: ""}).values_list(field.name, flat=True)
                )
                if used - known:
                    unlabelled[f"{model._meta.label}.{field.name}"] = used - known
    assert unlabelled == {}
    assert Channel.objects.filter(
        code="qr:store-01", name="门店码·一号店"
    ).exists()  # the demo names its channels


def test_every_ledger_of_the_demo_is_dated_across_its_year_and_verifies():
    call_command("seed_demo", "--members", "40", stdout=io.StringIO())

    now = timezone.now()
    dated = [
        (PointsEntry, "created_at"),
        (StoredValueEntry, "created_at"),
        (GrowthEntry, "created_at"),
        (CouponEvent, "created_at"),
        (OrderEvent, "created_at"),
        (CardEvent, "created_at"),
        (Member, "registered_at"),
    ]
    for model, field in dated:
        span = model.objects.aggregate(first=Min(field), last=Max(field))
        assert now - timedelta(days=366) < span["first"] and span["last"] <= now, model.__name__
        assert span["last"] - span["first"] >= timedelta(days=300), model.__name__
    days = CheckIn.objects.aggregate(first=Min("day"), last=Max("day"))
    assert days["last"] - days["first"] >= timedelta(days=300)
    # Rows the raw SQL creates are dated by the application's clock too, not the database's.
    months_ago = now - timedelta(days=300)
    assert PointsAccount.objects.aggregate(first=Min("created_at"))["first"] < months_ago
    assert StoredValueAccount.objects.aggregate(first=Min("created_at"))["first"] < months_ago
    assert VirtualCode.objects.aggregate(last=Max("uploaded_at"))["last"] < months_ago
    # Not one spike: entries on many days, tier changes in several months.
    assert PointsEntry.objects.dates("created_at", "day").count() > 200
    assert TierChange.objects.dates("created_at", "month").count() >= 3
    assert find_violations() == []
