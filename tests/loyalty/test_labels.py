"""Codes whose set is open read through a registry: the owner's codes, then those registered above it."""

import pytest
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from loyalty.labels import CodeLabels
from points.models import SOURCES, PointsEntry


def test_a_registry_labels_its_codes_and_an_unknown_code_reads_as_itself():
    labels = CodeLabels([("claim", _("claimed by the member"))])
    labels.register([("mall", _("points mall"))])

    with translation.override("zh-hans"):
        assert [(code, str(label)) for code, label in labels.choices()] == [
            ("claim", "会员领取"),
            ("mall", "积分商城"),
        ]
        assert labels.label("mall") == "积分商城" and labels.label("bench") == "bench"


def test_the_points_sources_of_the_apps_above_are_registered_at_startup_and_are_the_columns_choices():
    with translation.override("zh-hans"):
        assert SOURCES.label("order") == "订单" and SOURCES.label("recharge_gift") == "充值赠送"
        assert PointsEntry(source="gift_pack").get_source_display() == "礼包"
        assert PointsEntry(source="signup").get_source_display() == "注册奖励"  # the earning rules' kinds


@pytest.mark.django_db
def test_the_reasons_the_system_writes_read_as_labels_and_an_operators_reason_as_typed(admin_client, member):

    from loyalty.labels import REASONS
    from members.closure import member_close
    from tests.factories import EarnedPointsFactory
    from tests.helpers import page_text

    with translation.override("zh-hans"):
        assert REASONS.label("timeout") == "超时未支付，已自动取消"
        assert REASONS.label("account closed") == "账户注销"
        assert REASONS.label("顾客来电要求补发") == "顾客来电要求补发"

    EarnedPointsFactory(member=member, amount=500)
    member_close(member_id=member.pk)
    text = page_text(admin_client.get("/admin/points/pointsentry/"))
    assert "账户注销" in text and "account closed" not in text


@pytest.mark.django_db
def test_a_points_entrys_page_reads_a_system_reason_as_its_label(admin_client, member):
    from members.closure import member_close
    from points.models import PointsEntry
    from tests.factories import EarnedPointsFactory
    from tests.helpers import page_text

    EarnedPointsFactory(member=member, amount=500)
    member_close(member_id=member.pk)
    entry = PointsEntry.objects.get(account__member=member, memo="account closed")
    text = page_text(admin_client.get(f"/admin/points/pointsentry/{entry.pk}/change/"))
    assert "账户注销" in text and "account closed" not in text
