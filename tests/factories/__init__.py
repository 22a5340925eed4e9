"""factory_boy factories for the main models; each leaves valid domain state (integer fen, ledgers that verify)."""

from tests.factories.coupons import CouponFactory, CouponTemplateFactory, GiftPackFactory
from tests.factories.mall import MallItemFactory
from tests.factories.members import MemberFactory
from tests.factories.membership import CardTypeFactory
from tests.factories.orders import OrderFactory
from tests.factories.points import EarnedPointsFactory
from tests.factories.stored_value import (
    OpenRechargePlanFactory,
    RechargeFactory,
    RechargePlan1500Factory,
    RechargePlanFactory,
)
from tests.factories.stores import StaffFactory, StoreFactory
from tests.factories.users import OperatorFactory

__all__ = [
    "CardTypeFactory",
    "CouponFactory",
    "CouponTemplateFactory",
    "EarnedPointsFactory",
    "GiftPackFactory",
    "MallItemFactory",
    "MemberFactory",
    "OpenRechargePlanFactory",
    "OperatorFactory",
    "OrderFactory",
    "RechargeFactory",
    "RechargePlan1500Factory",
    "RechargePlanFactory",
    "StaffFactory",
    "StoreFactory",
]
