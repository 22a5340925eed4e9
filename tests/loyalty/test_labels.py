"""Codes whose set is open read through a registry: the owner's codes, then those registered above it."""

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
