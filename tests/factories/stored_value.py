"""Recharge plans, and recharges credited through the stored-value ledger."""

import factory

from stored_value import ledger
from stored_value.models import RechargeOrder, RechargePlan, RechargeTier
from tests.factories.members import MemberFactory


class RechargePlanFactory(factory.django.DjangoModelFactory):
    """A tiered plan for ¥1 to ¥5,000; ``tiers=[(pay_fen, bonus_fen), …]`` adds its tiers."""

    class Meta:
        model = RechargePlan
        skip_postgeneration_save = True  # the tiers are rows of their own; the plan needs no second save

    name = factory.Sequence(lambda n: f"充值方案 {n}")
    kind = "tiers"
    min_fen = 100
    max_fen = 500_000

    tiers = factory.PostGeneration(lambda plan, create, extracted, **kw: _add_tiers(plan, extracted or ()))


def _add_tiers(plan, tiers) -> None:
    for pay_fen, bonus_fen in tiers:
        RechargeTier.objects.create(plan=plan, pay_fen=pay_fen, bonus_fen=bonus_fen)


class RechargePlan1500Factory(RechargePlanFactory):
    """充1500送150: pay ¥1,500 (or more), get ¥150 bonus."""

    name = "充1500送150"
    tiers = factory.PostGeneration(
        lambda plan, create, extracted, **kw: _add_tiers(
            plan, [(150_000, 15_000)] if extracted is None else extracted
        )
    )


class OpenRechargePlanFactory(RechargePlanFactory):
    """The one open-amount plan (any amount, no bonus rule) that test recharges are made under."""

    class Meta:
        django_get_or_create = ("name",)

    name = "test plan"
    kind = "open"
    max_fen = 10**9


class RechargeFactory(factory.django.DjangoModelFactory):
    """A credited recharge as the payment notification leaves it (no payment row); ``awaiting_payment=True``: unpaid."""

    class Meta:
        model = RechargeOrder

    class Params:
        awaiting_payment = factory.Trait(status="created")

    member = factory.SubFactory(MemberFactory)
    plan = factory.SubFactory(OpenRechargePlanFactory)
    amount_fen = 10_000
    bonus_fen = 0
    status = "credited"

    @classmethod
    def _create(cls, model_class, *args, **fields):
        order = super()._create(model_class, *args, **fields)
        if order.status != "credited":
            return order
        ledger.stored_value_credit(
            member_id=order.member_id,
            recharge_id=order.pk,
            principal_fen=order.amount_fen,
            bonus_fen=order.bonus_fen,
            reference=f"test-{order.pk}",
        )
        return order
