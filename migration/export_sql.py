"""The member export's one statement: a chunk of members with everything the export's row holds.

Set-based: one statement per chunk of member ids (the caller pages by id), each member's lots, cards,
coupons and tags gathered by correlated subqueries on their member/account indexes and written as the
export's list cells (``remaining@expiry;…``) by PostgreSQL.  Dates are written in the merchant's time
zone, as the admin shows them.  Read through ``read_cursor``: the replica on a replica-fed page.
``tests/migration/test_export_sql.py`` checks it against the ORM on the same data.
"""

from __future__ import annotations

from collections import namedtuple

from analytics.models import MemberTag, MemberTagging
from coupons.models import Coupon, CouponStatus, CouponTemplate
from loyalty.rows import Names, read_cursor
from members.models import Channel, Member
from membership.models import CardStatus, CardType, Membership, MembershipCard, Tier
from points.models import PointsAccount, PointsLot
from stored_value.models import StoredValueAccount

_m = Names(Member)
_ch = Names(Channel)
_ms = Names(Membership)
_t = Names(Tier)
_pa = Names(PointsAccount)
_pl = Names(PointsLot)
_sva = Names(StoredValueAccount)
_tg = Names(MemberTag)
_mt = Names(MemberTagging)
_mc = Names(MembershipCard)
_ct = Names(CardType)
_c = Names(Coupon)
_tpl = Names(CouponTemplate)

#: Separates the items of a list cell (lots, cards, coupons, tags); ``@`` separates an item from its date.
ITEM_SEPARATOR = ";"
DATE_SEPARATOR = "@"
_TS = "'YYYY-MM-DD HH24:MI:SS'"


def _local(column: str) -> str:
    return f"to_char({column} AT TIME ZONE %(tz)s, {_TS})"


def _name(column: str) -> str:
    """A name inside a list cell: its separators replaced by their full-width forms, so the cell splits back."""
    return f"replace(replace({column}, '{ITEM_SEPARATOR}', '；'), '{DATE_SEPARATOR}', '＠')"


MemberRow = namedtuple(
    "MemberRow",
    "id openid unionid phone nickname gender birthday registered_at channel channel_name "
    "tier_level tier_name growth tags points_balance points_lots principal_fen bonus_fen cards coupons",
)

_CHUNK = f"""
SELECT m.{_m.id}, m.{_m.openid}, m.{_m.unionid}, m.{_m.phone}, m.{_m.nickname}, m.{_m.gender},
       m.{_m.birthday}, {_local(f"m.{_m.registered_at}")}, m.{_m.registration_channel}, ch.{_ch.name},
       coalesce(ms.{_ms.tier_level}, 0), t.{_t.name}, coalesce(ms.{_ms.growth_total}, 0),
       (SELECT string_agg({_name(f"tg.{_tg.name}")}, '{ITEM_SEPARATOR}' ORDER BY tg.{_tg.name})
          FROM {_mt.table} mt JOIN {_tg.table} tg ON tg.{_tg.id} = mt.{_mt.tag_id}
         WHERE mt.{_mt.member_id} = m.{_m.id}),
       coalesce(pa.{_pa.balance}, 0),
       (SELECT string_agg(l.{_pl.remaining} || '{DATE_SEPARATOR}' || coalesce({_local(f"l.{_pl.expires_at}")}, ''),
                          '{ITEM_SEPARATOR}' ORDER BY l.{_pl.expires_at} NULLS LAST, l.{_pl.id})
          FROM {_pl.table} l
         WHERE l.{_pl.account_id} = pa.{_pa.id} AND l.{_pl.remaining} > 0
           AND (l.{_pl.expires_at} IS NULL OR l.{_pl.expires_at} > %(now)s)),
       coalesce(sva.{_sva.principal_fen}, 0), coalesce(sva.{_sva.bonus_fen}, 0),
       (SELECT string_agg({_name(f"ct.{_ct.name}")} || '{DATE_SEPARATOR}'
                          || coalesce({_local(f"mc.{_mc.valid_until}")}, ''),
                          '{ITEM_SEPARATOR}' ORDER BY mc.{_mc.valid_until} NULLS LAST, mc.{_mc.id})
          FROM {_mc.table} mc JOIN {_ct.table} ct ON ct.{_ct.id} = mc.{_mc.card_type_id}
         WHERE mc.{_mc.member_id} = m.{_m.id} AND mc.{_mc.status} = '{CardStatus.ACTIVE}'
           AND (mc.{_mc.valid_until} IS NULL OR mc.{_mc.valid_until} > %(now)s)),
       (SELECT string_agg({_name(f"tpl.{_tpl.name}")} || '{DATE_SEPARATOR}' || {_local(f"c.{_c.valid_until}")},
                          '{ITEM_SEPARATOR}' ORDER BY c.{_c.valid_until}, c.{_c.id})
          FROM {_c.table} c JOIN {_tpl.table} tpl ON tpl.{_tpl.id} = c.{_c.template_id}
         WHERE c.{_c.member_id} = m.{_m.id}
           AND c.{_c.status} IN ('{CouponStatus.AVAILABLE}', '{CouponStatus.LOCKED}')
           AND c.{_c.valid_until} > %(now)s)
  FROM {_m.table} m
  LEFT JOIN {_ch.table} ch ON ch.{_ch.code} = m.{_m.registration_channel}
  LEFT JOIN {_ms.table} ms ON ms.{_ms.member_id} = m.{_m.id}
  LEFT JOIN {_t.table} t ON t.{_t.level} = coalesce(ms.{_ms.tier_level}, 0)
  LEFT JOIN {_pa.table} pa ON pa.{_pa.member_id} = m.{_m.id}
  LEFT JOIN {_sva.table} sva ON sva.{_sva.member_id} = m.{_m.id}
 WHERE m.{_m.id} = ANY(%(ids)s)
 ORDER BY m.{_m.id}
"""


def member_rows(ids: list[int], *, now, tz: str) -> list[MemberRow]:
    """The export rows of the members ``ids`` (by id): lots, cards and coupons still usable at ``now``."""
    with read_cursor(Member) as cur:
        cur.execute(_CHUNK, {"ids": list(ids), "now": now, "tz": tz})
        return [MemberRow(*row) for row in cur.fetchall()]
