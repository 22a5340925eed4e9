from membership.models import GrowthEntry, Membership, MembershipPolicy, Tier, TierChange
from tests.factories import GiftPackFactory


def set_tiers(*rows, upgrade_packs=False) -> list[Tier]:
    """Replace the tiers: rows of (level, threshold[, discount_bp, multiplier, free_shipping])."""
    Tier.objects.all().delete()
    made = []
    for row in rows:
        level, threshold, discount, multiplier, shipping = (*row, 0, "1", False)[:5]
        pack = (
            GiftPackFactory(name=f"升级礼包 {level}", points=10 * level) if upgrade_packs and level else None
        )
        made.append(
            Tier.objects.create(
                level=level,
                name=f"L{level}",
                growth_threshold=threshold,
                discount_bp=discount,
                points_multiplier=multiplier,
                free_shipping=shipping,
                upgrade_pack=pack,
            )
        )
    return made


def standard_tiers(**kw) -> list[Tier]:
    return set_tiers((0, 0), (1, 1000, 200, "1.2"), (2, 5000, 500, "1.5", True), (3, 20000, 1000, "2"), **kw)


def policy(**fields) -> MembershipPolicy:
    p = MembershipPolicy.objects.get_or_create(pk=1)[0]
    for name, value in fields.items():
        setattr(p, name, value)
    p.save()
    return p


def membership(member) -> Membership:
    return Membership.objects.get(member=member)


def level(member) -> int:
    return Membership.objects.filter(member=member).values_list("tier_level", flat=True).first() or 0


def history(member) -> list[tuple[int, int, str]]:
    return list(
        TierChange.objects.filter(member=member)
        .order_by("pk")
        .values_list("from_level", "to_level", "reason")
    )


def growth_sum(member) -> int:
    return sum(GrowthEntry.objects.filter(member=member).values_list("amount", flat=True))


def snapshot(member) -> tuple:
    m = Membership.objects.filter(member=member).values_list(
        "tier_level", "growth_total", "paid_total_fen", "completed_orders"
    )
    return (
        list(m),
        list(GrowthEntry.objects.filter(member=member).order_by("pk").values_list("pk", flat=True)),
        history(member),
    )
