"""Exports: every member with what is owed to them (CSV or XLSX), and one member's own data (JSON).

The member export's columns are written once, in ``COLUMNS``: the import reads the same fields with the
same meanings (a lot's remaining points and expiry, principal and bonus in yuan, a card's type and end,
an unused coupon's template and end).  Rules: docs/rules/export.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from analytics.models import MemberTagging, RfmScore
from coupons.models import Coupon, GiftPackGrant
from growth.models import Bargain, BargainHelp, GroupMember, PosterScene
from loyalty.admin_tools import in_yuan
from mall.models import Redemption, ShippingAddress
from members.models import Channel, Member, MemberToken
from membership.models import (
    CardEvent,
    CardPurchase,
    GrowthEntry,
    Membership,
    MembershipCard,
    Tier,
    TierChange,
)
from migration import export_sql
from migration.export_sql import DATE_SEPARATOR, ITEM_SEPARATOR
from notifications.models import Notification, SubscribeConsent, WechatDelivery
from orders.models import Order, OrderLine, Refund
from payments.models import Payment
from points.models import (
    CheckIn,
    PointsAccount,
    PointsEntry,
    PointsEntryArchive,
    PointsLot,
    PointsLotArchive,
    PointsWithheld,
    RuleKind,
)
from stored_value.models import FreezeEvent, RechargeOrder, StoredValueAccount, StoredValueEntry

#: Members per statement of the member export: bounded memory, and few enough round trips.
CHUNK_SIZE = 2000


@dataclass(frozen=True)
class Column:
    """One column of the member export: ``field`` is the name the import maps a file's header to."""

    field: str
    label: Promise


#: The member export's columns, in order (the import's fields: docs/rules/export.md, "Columns").
COLUMNS = (
    Column("member_id", _("member ID")),
    Column("openid", _("openid")),
    Column("unionid", _("unionid")),
    Column("phone", _("phone")),
    Column("nickname", _("nickname")),
    Column("gender", _("gender")),
    Column("birthday", _("birthday")),
    Column("registered_at", _("registered at")),
    Column("channel", _("registration channel")),
    Column("channel_name", _("registration channel name")),
    Column("tier_level", _("tier level number")),
    Column("tier_name", _("tier name")),
    Column("growth", _("growth value")),
    Column("tags", _("tags")),
    Column("points_balance", _("points balance")),
    Column("points_lots", _("points lots (remaining@expires at)")),
    Column("principal", in_yuan(_("stored-value principal"))),
    Column("bonus", in_yuan(_("stored-value bonus"))),
    Column("cards", _("membership cards (type@valid until)")),
    Column("coupons", _("unused coupons (template@valid until)")),
)

__all__ = ["COLUMNS", "DATE_SEPARATOR", "ITEM_SEPARATOR", "member_export_rows", "member_personal_data"]


def header() -> list:
    return [column.label for column in COLUMNS]


def yuan(fen: int) -> Decimal:
    """Fen as yuan with two decimals, exactly (``-2500`` → ``Decimal('-25.00')``): a number in XLSX, text in CSV."""
    return Decimal(int(fen)).scaleb(-2)


def member_export_rows(
    *, members: QuerySet | None = None, chunk_size: int = CHUNK_SIZE, now=None
) -> Iterator[list]:
    """Every open member of ``members`` (all members when None), by id, as rows of ``COLUMNS``.

    Paged by id (keyset): each chunk is one query for the next ids and one statement for their rows
    (``export_sql.member_rows``), so memory holds one chunk whatever the shop's size.  Closed accounts
    are left out (anonymised, nothing left on them).  Lots, cards and coupons are those usable at
    ``now``, as of the first chunk, so the file is one consistent reading of what is owed.
    """
    now = now or timezone.now()
    source = (members if members is not None else Member.objects.all()).filter(closed_at__isnull=True)
    genders = {value: str(label) for value, label in Member.Gender.choices}
    after = 0
    while True:
        ids = list(source.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:chunk_size])
        if not ids:
            return
        for r in export_sql.member_rows(ids, now=now, tz=settings.TIME_ZONE):
            yield [
                r.id,
                r.openid,
                r.unionid,
                r.phone,
                r.nickname,
                genders.get(r.gender, ""),
                r.birthday.isoformat() if r.birthday else "",
                r.registered_at,
                r.channel,
                r.channel_name or "",
                r.tier_level,
                r.tier_name or "",
                r.growth,
                r.tags or "",
                r.points_balance,
                r.points_lots or "",
                yuan(r.principal_fen),
                yuan(r.bonus_fen),
                r.cards or "",
                r.coupons or "",
            ]
        after = ids[-1]


# --- one member's own data (the personal-information access right) ------------------------------------


def _rows(queryset: QuerySet, *fields: str) -> list[dict]:
    return list(queryset.values(*fields))


def member_personal_data(*, member_id: int) -> dict:
    """Everything held about one member, and nothing about anyone else, for ``GET /api/v1/me/export``.

    Left out on purpose: other people (the referrer is only ``has_referrer``, the invited friends only
    a count; an invite reward's reference, the friend's order number, is blank; operators acting on the
    member are not named), and internal secrets (idempotency keys, request hashes, token hashes, WeChat's
    session key, the phone hash of reward checks).  A closed account holds nothing personal any more: its
    export says when it was closed and nothing else.  A fixed number of queries, whatever the history.
    """
    member = Member.objects.get(pk=member_id)
    if member.closed_at is not None:
        return {"closed_at": member.closed_at, "profile": None}
    channel_name = (
        Channel.objects.filter(code=member.registration_channel).values_list("name", flat=True).first()
        if member.registration_channel
        else None
    )
    membership = Membership.objects.filter(member_id=member_id).values(
        "tier_level",
        "growth_total",
        "paid_total_fen",
        "completed_orders",
        "tier_changed_at",
        "protected_until",
    ).first() or {"tier_level": 0, "growth_total": 0, "paid_total_fen": 0, "completed_orders": 0}
    tier_name = Tier.objects.filter(level=membership["tier_level"]).values_list("name", flat=True).first()
    points_account = PointsAccount.objects.filter(member_id=member_id).values("id", "balance").first()
    account_id = points_account["id"] if points_account else None
    sv_account = (
        StoredValueAccount.objects.filter(member_id=member_id)
        .values("id", "principal_fen", "bonus_fen", "frozen", "frozen_reason")
        .first()
    )
    orders = _rows(
        Order.objects.filter(member_id=member_id).order_by("committed_at", "id"),
        "id",
        "order_no",
        "status",
        "goods_fen",
        "shipping_fen",
        "benefit_discount_fen",
        "coupon_discount_fen",
        "shipping_discount_fen",
        "points_used",
        "points_fen",
        "stored_value_fen",
        "cash_fen",
        "earned_points",
        "refunded_goods_fen",
        "refunded_shipping_fen",
        "refunded_points",
        "refunded_stored_value_fen",
        "refunded_cash_fen",
        "reversed_earned_points",
        "committed_at",
        "completed_at",
        "cancelled_at",
    )
    order_ids = [o["id"] for o in orders]
    lines = _rows(
        OrderLine.objects.filter(order_id__in=order_ids).order_by("order_id", "line_no"),
        "order_id",
        "line_no",
        "sku",
        "category",
        "name",
        "unit_price_fen",
        "quantity",
        "amount_fen",
        "benefit_discount_fen",
        "coupon_discount_fen",
        "points",
        "points_fen",
        "stored_value_fen",
        "cash_fen",
        "refunded_quantity",
    )
    refunds = _rows(
        Refund.objects.filter(order_id__in=order_ids).order_by("created_at", "id"),
        "order_id",
        "refund_no",
        "goods_fen",
        "shipping_fen",
        "points",
        "stored_value_fen",
        "cash_fen",
        "earned_points_reversed",
        "created_at",
    )
    for order in orders:
        order["lines"] = [line for line in lines if line["order_id"] == order["id"]]
        order["refunds"] = [refund for refund in refunds if refund["order_id"] == order["id"]]
    for item in lines + refunds:
        del item["order_id"]
    points_entries = _rows(
        PointsEntry.objects.filter(account__member_id=member_id).order_by("created_at", "id"),
        "id",
        "kind",
        "amount",
        "balance_after",
        "source",
        "reference",
        "memo",
        "created_at",
    ) + _rows(
        PointsEntryArchive.objects.filter(account__member_id=member_id).order_by("created_at", "id"),
        "id",
        "kind",
        "amount",
        "balance_after",
        "source",
        "reference",
        "memo",
        "created_at",
    )
    withheld = _rows(
        PointsWithheld.objects.filter(account__member_id=member_id).order_by("created_at", "id"),
        "rule_kind",
        "requested",
        "granted",
        "withheld",
        "reason",
        "reference",
        "created_at",
    )
    for row in points_entries:
        if row["source"] == RuleKind.INVITER:
            row["reference"] = ""  # the invited friend's order number: theirs, not this member's
    for row in withheld:
        if row["rule_kind"] == RuleKind.INVITER:
            row["reference"] = ""
    lot_fields = ("id", "amount", "remaining", "source", "earned_at", "expires_at")
    lots = _rows(PointsLot.objects.filter(account_id=account_id).order_by("earned_at", "id"), *lot_fields)
    lots += _rows(
        PointsLotArchive.objects.filter(account_id=account_id).order_by("earned_at", "id"), *lot_fields
    )
    return {
        "exported_at": timezone.now(),
        "profile": {
            "id": member.pk,
            "openid": member.openid,
            "unionid": member.unionid,
            "phone": member.phone,
            "nickname": member.nickname,
            "avatar_url": member.avatar_url,
            "gender": member.gender,
            "birthday": member.birthday,
            "invite_code": member.invite_code,
            "registration_channel": member.registration_channel,
            "registration_channel_name": channel_name,
            "registered_at": member.registered_at,
            "birthday_changed_at": member.birthday_changed_at,
            "has_referrer": member.referrer_id is not None,
            "invited_members": Member.objects.filter(referrer_id=member_id).count(),
            "tags": list(
                MemberTagging.objects.filter(member_id=member_id)
                .order_by("tag__name")
                .values_list("tag__name", flat=True)
            ),
            "rfm": RfmScore.objects.filter(member_id=member_id)
            .values("segment", "r_score", "f_score", "m_score")
            .first(),
        },
        "sessions": _rows(
            MemberToken.objects.filter(member_id=member_id).order_by("created_at", "id"),
            "created_at",
            "expires_at",
            "revoked_at",
        ),
        "membership": {
            **membership,
            "tier_name": tier_name,
            "growth_entries": _rows(
                GrowthEntry.objects.filter(member_id=member_id).order_by("counts_at", "id"),
                "kind",
                "amount",
                "paid_fen",
                "order_no",
                "counts_at",
                "created_at",
            ),
            "tier_changes": _rows(
                TierChange.objects.filter(member_id=member_id).order_by("created_at", "id"),
                "from_level",
                "to_level",
                "reason",
                "window_growth",
                "note",
                "created_at",
            ),
            "cards": _rows(
                MembershipCard.objects.filter(member_id=member_id).order_by("created_at", "id"),
                "id",
                "card_type__name",
                "status",
                "source",
                "valid_from",
                "valid_until",
                "channel",
                "created_at",
            ),
            "card_events": _rows(
                CardEvent.objects.filter(card__member_id=member_id).order_by("created_at", "id"),
                "card_id",
                "kind",
                "valid_until",
                "reason",
                "created_at",
            ),
            "card_purchases": _rows(
                CardPurchase.objects.filter(member_id=member_id).order_by("created_at", "id"),
                "id",
                "card_type__name",
                "period",
                "amount_fen",
                "status",
                "out_trade_no",
                "period_start",
                "period_end",
                "refunded_fen",
                "created_at",
                "paid_at",
                "refunded_at",
            ),
        },
        "points": {
            "balance": points_account["balance"] if points_account else 0,
            "entries": points_entries,
            "lots": lots,
            "withheld": withheld,
            "check_ins": _rows(
                CheckIn.objects.filter(member_id=member_id).order_by("day"), "day", "streak", "points"
            ),
        },
        "stored_value": {
            "principal_fen": sv_account["principal_fen"] if sv_account else 0,
            "bonus_fen": sv_account["bonus_fen"] if sv_account else 0,
            "frozen": sv_account["frozen"] if sv_account else False,
            "frozen_reason": sv_account["frozen_reason"] if sv_account else "",
            "entries": _rows(
                StoredValueEntry.objects.filter(account__member_id=member_id).order_by("created_at", "id"),
                "id",
                "kind",
                "principal_fen",
                "bonus_fen",
                "principal_after_fen",
                "bonus_after_fen",
                "source",
                "reference",
                "memo",
                "created_at",
            ),
            "recharges": _rows(
                RechargeOrder.objects.filter(member_id=member_id).order_by("created_at", "id"),
                "id",
                "plan__name",
                "amount_fen",
                "bonus_fen",
                "gift_points",
                "status",
                "out_trade_no",
                "refunded_fen",
                "forfeited_bonus_fen",
                "created_at",
                "credited_at",
                "closed_at",
                "refunded_at",
            ),
            "freezes": _rows(
                FreezeEvent.objects.filter(account__member_id=member_id).order_by("created_at", "id"),
                "frozen",
                "reason",
                "created_at",
            ),
        },
        "coupons": _rows(
            Coupon.objects.filter(member_id=member_id).order_by("issued_at", "id"),
            "id",
            "template__name",
            "code",
            "status",
            "source",
            "valid_from",
            "valid_until",
            "order_no",
            "issued_at",
            "used_at",
        ),
        "gift_packs": _rows(
            GiftPackGrant.objects.filter(member_id=member_id).order_by("created_at", "id"),
            "pack__name",
            "occasion",
            "created_at",
        ),
        "orders": orders,
        "payments": _rows(
            Payment.objects.filter(member_id=member_id).order_by("created_at", "id"),
            "out_trade_no",
            "purpose",
            "description",
            "amount_fen",
            "refunded_fen",
            "status",
            "created_at",
            "paid_at",
            "closed_at",
        ),
        "mall": {
            "redemptions": _rows(
                Redemption.objects.filter(member_id=member_id).order_by("created_at", "id"),
                "id",
                "no",
                "item__name",
                "kind",
                "points",
                "cash_fen",
                "status",
                "recipient",
                "phone",
                "address",
                "carrier",
                "tracking_no",
                "cancel_reason",
                "created_at",
                "paid_at",
                "fulfilled_at",
                "shipped_at",
                "completed_at",
                "cancelled_at",
            ),
            "addresses": _rows(
                ShippingAddress.objects.filter(member_id=member_id).order_by("created_at", "id"),
                "id",
                "recipient",
                "phone",
                "province",
                "city",
                "district",
                "detail",
                "postal_code",
                "is_default",
                "created_at",
            ),
        },
        "growth": _growth_data(member_id),
        "notifications": {
            "inbox": _rows(
                Notification.objects.filter(member_id=member_id).order_by("created_at", "id"),
                "id",
                "kind",
                "title",
                "body",
                "created_at",
                "read_at",
            ),
            "subscriptions": _rows(
                SubscribeConsent.objects.filter(member_id=member_id).order_by("created_at", "id"),
                "template_id",
                "result",
                "created_at",
                "spent_at",
            ),
            "wechat_messages": _rows(
                WechatDelivery.objects.filter(member_id=member_id).order_by("created_at", "id"),
                "kind",
                "status",
                "created_at",
                "sent_at",
            ),
        },
    }


def _growth_data(member_id: int) -> dict:
    """The member's 拼团 places, 砍价 bargains (their helpers' cuts without the helpers), the cuts they
    gave others (without whose bargain it was) and their share posters' scenes."""
    return {
        "group_places": _rows(
            GroupMember.objects.filter(member_id=member_id).order_by("created_at", "id"),
            "activity__name",
            "group_id",
            "role",
            "status",
            "amount_fen",
            "out_trade_no",
            "recipient",
            "phone",
            "address",
            "refund_reason",
            "created_at",
            "paid_at",
            "completed_at",
            "refunded_at",
        ),
        "bargains": _bargains(member_id),
        "helps_given": _rows(
            BargainHelp.objects.filter(helper_id=member_id).order_by("created_at", "id"),
            "bargain__activity__name",
            "cut_fen",
            "day",
            "created_at",
        ),
        "poster_scenes": _rows(
            PosterScene.objects.filter(member_id=member_id).order_by("created_at", "id"),
            "code",
            "kind",
            "target_id",
            "channel",
            "created_at",
        ),
    }


def _bargains(member_id: int) -> list[dict]:
    bargains = _rows(
        Bargain.objects.filter(member_id=member_id).order_by("created_at", "id"),
        "id",
        "activity__name",
        "state",
        "original_price_fen",
        "floor_price_fen",
        "price_fen",
        "helps_count",
        "deadline",
        "recipient",
        "phone",
        "address",
        "out_trade_no",
        "paid_fen",
        "refund_note",
        "created_at",
        "paid_at",
        "refunded_at",
    )
    helps = _rows(
        BargainHelp.objects.filter(bargain__member_id=member_id).order_by("bargain_id", "seq"),
        "bargain_id",
        "seq",
        "cut_fen",
        "price_after_fen",
        "created_at",
    )
    for bargain in bargains:
        bargain["cuts"] = [
            {k: v for k, v in h.items() if k != "bargain_id"}
            for h in helps
            if h["bargain_id"] == bargain["id"]
        ]
    return bargains
