"""Who may receive value or a reminder: every member whose account is not closed (注销).

Closure (``members.closure``) takes back what a member held and anonymises
the row; nothing may reach it afterwards.  So every audience (everyone, new
members, tier levels, card holders, segments, uploaded lists) and every job
that gives value (gift packs, coupons, cards, tier changes) or sends a
reminder asks here, in whichever form it needs — each the same rule:

- ``may_receive(member)`` for a member already loaded;
- ``receiving_q(prefix)`` / ``members_receiving()`` for a queryset;
- ``receiving_sql(alias)`` for a raw statement over ``members_member``;
- ``lock_receiving(member_ids=…)`` to decide under a row lock, for a grant
  that must not land on an account closed while it runs.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from members import sql
from members.models import Member

_CLOSED_AT = Member._meta.get_field("closed_at").column


def may_receive(member: Member) -> bool:
    return member.closed_at is None


def receiving_q(prefix: str = "") -> Q:
    """The rule as a filter on Member (``prefix=""``) or across a relation to it (``"member__"``)."""
    return Q(**{f"{prefix}closed_at__isnull": True})


def members_receiving() -> QuerySet[Member]:
    return Member.objects.filter(receiving_q())


def receiving_sql(alias: str) -> str:
    """The rule as a SQL condition on the ``members_member`` row aliased ``alias``."""
    return f"{alias}.{_CLOSED_AT} IS NULL"


def lock_receiving(*, member_ids: Iterable[int]) -> set[int]:
    """Of ``member_ids``, those who may receive, their member rows locked FOR SHARE until the
    transaction ends.

    Closure locks the member row FOR NO KEY UPDATE before it takes points and
    stored value back, so a grant that asks here first either sees the
    account closed (the lock waits for the closure to commit, then reads the
    row as it is now) or makes the closure wait until the grant is
    committed, and the closure then takes the grant back with the rest.
    Neither lock blocks the key-share locks that writing a row referring to
    the member takes.  Rows are locked in id order.
    """
    ids = sorted(set(member_ids))
    if not ids:
        return set()
    return sql.lock_members(ids, receiving_sql("m"))
