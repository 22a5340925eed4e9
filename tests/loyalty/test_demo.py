import io

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import models

from coupons.models import CouponTemplate, GiftPackGrant
from mall.models import MallItem, Redemption
from members.models import Channel, Member
from membership.models import CardType, MemberDay, MembershipCard, TierChange
from notifications.models import SubscribeConsent, WechatTemplate
from points.models import PointsEntry
from stored_value.models import RechargeOrder, RechargePlan
from tests.helpers import assert_ledgers_consistent

pytestmark = pytest.mark.django_db


def test_the_demo_pays_recharges_through_the_fake_wechat_pay_once(settings, tmp_path):
    settings.BASE_DIR = tmp_path  # the demo API client file goes here
    call_command("seed_demo", "--members", "40", stdout=io.StringIO())
    call_command("seed_demo", "--members", "40", stdout=io.StringIO())

    assert RechargePlan.objects.count() == 3
    assert CouponTemplate.objects.count() == 7  # one of them for the mall
    assert GiftPackGrant.objects.count() == 40
    assert (
        PointsEntry.objects.filter(source="purchase").exists()
        and PointsEntry.objects.filter(kind="spend").exists()
    )
    assert RechargeOrder.objects.count() == 8
    assert set(RechargeOrder.objects.values_list("status", flat=True)) == {"credited"}
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
