import pytest

from membership.models import Tier
from tests.factories.coupons import CouponTemplateFactory
from tests.factories.membership import CardTypeFactory
from tests.factories.users import OperatorFactory


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def operator(db):
    return OperatorFactory()


@pytest.fixture
def catalogue(db):
    """What the old system's rows name: tiers 普通 and 黄金, a 金卡 card and a coupon 满100减20."""
    Tier.objects.update_or_create(level=0, defaults={"name": "普通", "growth_threshold": 0})
    Tier.objects.update_or_create(level=1, defaults={"name": "黄金", "growth_threshold": 1000})
    Tier.objects.update_or_create(level=2, defaults={"name": "钻石", "growth_threshold": 5000})
    return {
        "card": CardTypeFactory(name="金卡"),
        "store_card": CardTypeFactory(name="门店会员卡"),
        "coupon": CouponTemplateFactory(name="满100减20", per_member_limit=3, total_stock=1000),
    }
