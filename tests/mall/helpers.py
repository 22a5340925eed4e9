from mall import services
from mall.models import Redemption, ShippingAddress, VirtualCode
from tests.helpers import points_of


def address(member, **fields) -> ShippingAddress:
    defaults = {
        "recipient": "王小明",
        "phone": "13800000000",
        "province": "浙江省",
        "city": "杭州市",
        "detail": "西湖路1号",
    }
    return services.address_create(member_id=member.pk, **{**defaults, **fields})


def redeem(member, it, key="r1", **kwargs):
    return services.redemption_create(member=member, item_id=it.pk, idempotency_key=key, **kwargs).redemption


def state(it, member=None) -> tuple:
    """Everything a refused redemption must leave untouched."""
    it.refresh_from_db()
    return (
        it.stock,
        it.sold_count,
        Redemption.objects.count(),
        VirtualCode.objects.filter(redemption__isnull=False).count(),
        points_of(member) if member else None,
    )
