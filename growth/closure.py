"""What account closure (``members.closure.member_close``) does to the member's 拼团 places and 砍价 bargains.

Closure follows one rule: nothing of value is left on an anonymised account and nothing in flight can
hand value back to it.  A place paid into a group still open is money held for a result that may never
come, so it is refunded in full (reason ``group_account_closed``, as a payment arriving for a closed
account is) and its unit goes back; a group left with no paid member fails.  A bargain not bought yet
(cutting, or awaiting payment) ends: money arriving for it later is refunded on arrival as for any
purchase no longer awaited.  A place still awaiting payment is left as it is: its money, if it comes, is
refunded on arrival (``group_member_paid`` refuses a closed account).  Completed places and bought
bargains are the member's: their coupons are voided with the others', and a unit awaiting shipment keeps
the closure refused (``redemption_in_progress``), as any mall redemption does.  Helps the member gave
stay (they moved no value).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from growth import services
from growth.models import Bargain, BargainState, GroupMember, GroupState, PlaceStatus
from loyalty import locks
from loyalty.locks import Rank
from payments import services as payments


@dataclass(frozen=True)
class GrowthClosed:
    places_refunded: int
    bargains_ended: int


def member_growth_close(*, member_id: int, now=None) -> GrowthClosed:
    """Refund the member's places in open groups and end their bargains not bought; call inside the
    closure's transaction, before its own locks (a refusal later rolls all of it back, refunds included:
    they are submitted to WeChat Pay only after commit).  Idempotent: a second run finds nothing.

    Locks in the one order (``loyalty.locks``): the payments of the member's places awaiting payment or
    in an open group and of their bargains awaiting payment (so no notification decides one meanwhile),
    the bargains (DOCUMENT), the groups (GROWTH_GROUP), the activities' units (GROWTH_STOCK).  The places
    are written under their payment's and their group's locks, which every writer of a place holds one
    of (payments lock the payment, a completion the group): locking the place itself before its group
    would deadlock with a completion, which updates its members' places while holding the group.
    """
    now = now or timezone.now()
    in_flight = GroupMember.objects.filter(member_id=member_id).filter(
        Q(status=PlaceStatus.PENDING_PAYMENT) | Q(status=PlaceStatus.JOINED, group__state=GroupState.OPEN)
    )
    numbers = set(in_flight.exclude(out_trade_no="").values_list("out_trade_no", flat=True))
    numbers |= set(
        Bargain.objects.filter(member_id=member_id, state=BargainState.PENDING_PAYMENT)
        .exclude(out_trade_no="")
        .values_list("out_trade_no", flat=True)
    )
    paid = payments.payments_lock(out_trade_nos=numbers)  # refunding locks each again, never waiting

    locks.note(Rank.DOCUMENT, "bargains of a closing member")
    ending = list(
        Bargain.objects.select_for_update()
        .filter(member_id=member_id, state__in=[BargainState.OPEN, BargainState.PENDING_PAYMENT])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    Bargain.objects.filter(pk__in=ending).update(state=BargainState.EXPIRED)

    group_ids = sorted(
        set(
            GroupMember.objects.filter(
                member_id=member_id, status=PlaceStatus.JOINED, group__state=GroupState.OPEN
            ).values_list("group_id", flat=True)
        )
    )
    refunded, units = 0, {}
    for group_id in group_ids:
        group = services._lock_group(group_id)
        if group.state != GroupState.OPEN:
            continue
        places = list(
            GroupMember.objects.filter(group_id=group_id, member_id=member_id, status=PlaceStatus.JOINED)
        )
        for place in places:
            payment = paid.get(place.out_trade_no)
            if payment is None:
                # Opened and paid between the read above and now: its notification has committed, so
                # nothing holds its payment any more and taking it here cannot wait on anyone.
                payment = payments.payment_lock(out_trade_no=place.out_trade_no)
            services._refund(place, payment, services.CLOSED_ACCOUNT, now)
        if not places:
            continue
        refunded += len(places)
        units[group.activity_id] = units.get(group.activity_id, 0) + len(places)
        group.joined_count -= len(places)
        fields = ["joined_count"]
        if group.joined_count == 0:  # no paid member left: nobody could join it and be refunded later
            group.state, group.failed_at = GroupState.FAILED, now
            fields += ["state", "failed_at"]
            services._event("failed", group_id=group.pk, note=services.CLOSED_ACCOUNT)
        group.save(update_fields=fields)
    for activity_id in sorted(units):
        services._give_back_units(activity_id, units[activity_id])
    return GrowthClosed(places_refunded=refunded, bargains_ended=len(ending))
