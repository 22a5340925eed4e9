"""The member list's columns from the apps above members (tier, points, balance, last purchase, total
spend) and its filters by tier, tag and segment.

Every column is an annotation of the list's one query (joins on the one-to-one accounts, subqueries
for the rest), so a page of members costs one query however many columns it shows.  Registered into
``members.admin`` at startup (AnalyticsConfig.ready): members import none of these apps.
"""

from django.contrib import admin
from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from analytics.models import MemberTag, Segment
from analytics.selectors import segment_members
from loyalty.admin_tools import local_time
from loyalty.money import format_fen
from members.admin import MemberListPart, member_list_part_register
from membership.models import Tier
from orders.models import Order
from points.models import PointsAccount
from stored_value.models import StoredValueAccount


def annotations() -> dict:
    last_purchase = (
        Order.objects.filter(member=OuterRef("pk"), completed_at__isnull=False)
        .order_by("-completed_at")
        .values("completed_at")[:1]
    )
    return {
        "list_tier_level": Coalesce(F("membership__tier_level"), 0),
        "list_tier_name": Subquery(Tier.objects.filter(level=OuterRef("list_tier_level")).values("name")[:1]),
        "list_points": Coalesce(F("points_account__balance"), 0),
        "list_points_account": F("points_account__id"),
        "list_stored_value_account": F("stored_value_account__id"),
        "list_balance_fen": Coalesce(
            F("stored_value_account__principal_fen") + F("stored_value_account__bonus_fen"), 0
        ),
        "list_last_purchase": Subquery(last_purchase),
        "list_spend_fen": Coalesce(F("membership__paid_total_fen"), 0),
    }


@admin.display(description=_("member tier"), ordering="list_tier_level")
def tier(member):
    return member.list_tier_name or "—"


@admin.display(description=_("points"), ordering="list_points")
def points(member):
    return f"{member.list_points:,}"


@admin.display(description=_("stored-value balance"), ordering="list_balance_fen")
def balance(member):
    return format_fen(member.list_balance_fen)


@admin.display(description=_("last purchase"), ordering="list_last_purchase")
def last_purchase(member):
    return local_time(member.list_last_purchase)[:10] or "—"


@admin.display(description=_("total spend"), ordering="list_spend_fen")
def total_spend(member):
    return format_fen(member.list_spend_fen)


class TierFilter(admin.SimpleListFilter):
    title = _("member tier")
    parameter_name = "tier"

    def lookups(self, request, model_admin):
        return [(str(t.level), t.name) for t in Tier.objects.order_by("level")]

    def queryset(self, request, queryset):
        if self.value() is None or not self.value().isdigit():
            return queryset
        level = int(self.value())
        entry = Q(membership__isnull=True) if level == 0 else Q(pk__in=[])
        return queryset.filter(Q(membership__tier_level=level) | entry)


class TagFilter(admin.SimpleListFilter):
    title = _("tag")
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        return [(str(t.pk), t.name) for t in MemberTag.objects.order_by("name")]

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            return queryset.filter(
                pk__in=MemberTag.members.through.objects.filter(tag_id=self.value()).values("member_id")
            )
        return queryset


class SegmentFilter(admin.SimpleListFilter):
    title = _("segment")
    parameter_name = "segment"

    def lookups(self, request, model_admin):
        return [(str(s.pk), s.name) for s in Segment.objects.order_by("name")]

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            return queryset.filter(pk__in=segment_members(segment_id=int(self.value())).values("pk"))
        return queryset


def _account(member, annotation: str, model):
    """The member's account id: from the list's query where it was annotated, else looked up (a member's page)."""
    if hasattr(member, annotation):
        return getattr(member, annotation)
    return model.objects.filter(member=member).values_list("pk", flat=True).first()


def actions(member) -> list[tuple[str, str]]:
    """The member's buttons, on the list's 操作 column and the member's page: grant a card, adjust points or
    stored value (where the account exists)."""
    found = []
    found.append(
        (_("grant a card"), reverse("admin:membership_membershipcard_grant") + f"?member={member.pk}")
    )
    if account := _account(member, "list_points_account", PointsAccount):
        found.append((_("Adjust points"), reverse("admin:points_pointsaccount_adjust", args=[account])))
    if account := _account(member, "list_stored_value_account", StoredValueAccount):
        found.append(
            (
                _("adjust stored value"),
                reverse("admin:stored_value_storedvalueaccount_adjust", args=[account]),
            )
        )
    return found


def register() -> None:
    member_list_part_register(
        name="analytics",
        part=MemberListPart(
            annotations=annotations,
            columns=(tier, points, balance, last_purchase, total_spend),
            filters=(TierFilter, TagFilter, SegmentFilter),
            actions=actions,
        ),
    )
