"""Reads of the coupons app for the API and the admin."""

import base64
import io

import qrcode
from django.db.models import Count, Q
from django.utils import timezone
from qrcode.image.pure import PyPNGImage

from coupons import sql
from coupons.audience import member_in_audience
from coupons.models import Coupon, CouponStatus, CouponTemplate, GiftPackGrant, Validity
from coupons.pricing import CouponSpec
from points.selectors import points_standing


def claim_centre(*, member, now=None) -> list[dict]:
    """Templates this member may claim now, with the stock left and how many more they may claim."""
    now = now or timezone.now()
    templates = (
        CouponTemplate.objects.filter(is_active=True, claimable=True)
        .filter(Q(claim_starts_at__isnull=True) | Q(claim_starts_at__lte=now))
        .filter(Q(claim_ends_at__isnull=True) | Q(claim_ends_at__gt=now))
        .exclude(validity=Validity.FIXED, valid_until__lte=now)
        .annotate(mine=Count("coupons", filter=Q(coupons__member=member)))
        .order_by("id")
    )
    return [
        {
            "template": t,
            "remaining_stock": t.remaining_stock,
            "my_remaining": max(t.per_member_limit - t.mine, 0),
        }
        for t in templates
        if member_in_audience(template=t, member=member)
    ]


def member_coupons(*, member_id: int, status: str | None = None):
    coupons = Coupon.objects.filter(member_id=member_id).select_related("template").order_by("-id")
    return coupons.filter(status=status) if status else coupons


def coupon_status(*, coupon_id: int) -> str | None:
    """A coupon's status now (unlocked: what a confirmation page shows, or a decision its service re-checks)."""
    return Coupon.objects.filter(pk=coupon_id).values_list("status", flat=True).first()


def qr_png(code: str) -> bytes:
    """The coupon's code as a QR PNG, for redemption at a counter (pure-Python PNG, no Pillow)."""
    buffer = io.BytesIO()
    qrcode.make(code, image_factory=PyPNGImage, box_size=8, border=2).save(buffer)
    return buffer.getvalue()


def qr_data_url(code: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(code)).decode()


def usable_specs(*, member_id: int, now=None) -> list[CouponSpec]:
    """The member's coupons usable now, as the pricing engine takes them (the checkout's input)."""
    now = now or timezone.now()
    coupons = Coupon.objects.filter(
        member_id=member_id, status=CouponStatus.AVAILABLE, valid_from__lte=now, valid_until__gt=now
    ).select_related("template")
    return [coupon_spec(coupon) for coupon in coupons]


def coupon_spec(coupon: Coupon) -> CouponSpec:
    t = coupon.template
    return CouponSpec(
        id=coupon.pk,
        kind=t.kind,
        threshold_fen=t.threshold_fen,
        amount_off_fen=t.amount_off_fen,
        percent_off=t.percent_off,
        max_discount_fen=t.max_discount_fen,
        gift_sku=t.gift_sku,
        scope=t.scope,
        scope_values=frozenset(t.scope_values),
        scope_exclude=t.scope_exclude,
        stacking=t.stacking,
        expires_at=coupon.valid_until,
    )


def available_count(*, member_id: int, now=None) -> int:
    now = now or timezone.now()
    return Coupon.objects.filter(
        member_id=member_id, status=CouponStatus.AVAILABLE, valid_from__lte=now, valid_until__gt=now
    ).count()


def gift_pack_points_standing(*, member_id: int, occasions: list[str], since) -> int:
    """The points of the packs given to a member for ``occasions`` at or after ``since`` not yet clawed back
    (what ``services.gift_pack_revoke`` would take back)."""
    grants = GiftPackGrant.objects.filter(member_id=member_id, occasion__in=occasions, created_at__gte=since)
    return points_standing(
        member_id=member_id, keys=[f"gift-pack:{pk}" for pk in grants.values_list("pk", flat=True)]
    )


def member_summary_part(*, member_id: int) -> dict:
    """The "me" page's usable coupons (``members.selectors.member_summary``)."""
    return {"coupons_available": available_count(member_id=member_id)}


def member_overview_part(*, member_id: int) -> dict:
    """The operators' member overview: the member's latest 50 coupons."""
    return {"coupons": member_coupons(member_id=member_id)[:50]}


def usable_coupons(*, member_id: int, now=None, limit: int = 50) -> list[dict]:
    """The member's coupons usable now, soonest to expire first, with their face (满100减20…): what a
    counter shows and the till passes to checkout by id.  One statement (every 会员码 resolution asks)."""
    now = now or timezone.now()
    found = []
    for row in sql.usable_with_templates(member_id, now, limit):
        template = CouponTemplate(
            name=row.name,
            kind=row.kind,
            threshold_fen=row.threshold_fen,
            amount_off_fen=row.amount_off_fen,
            percent_off=row.percent_off,
            max_discount_fen=row.max_discount_fen,
            gift_sku=row.gift_sku,
        )
        found.append(
            {
                "id": row.id,
                "name": row.name,
                "face": template.face(),
                "kind": row.kind,
                "valid_until": row.valid_until,
            }
        )
    return found
