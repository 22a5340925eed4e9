"""Which audiences name a member tag: what deleting the tag would quietly change.

Tags are named by id inside JSON (a segment's ``tag`` conditions, a coupon template's or a member
day's ``audience_values`` when its audience is ``tags``), so no foreign key protects them: deleting a
tag would leave those audiences pointing at a tag no member carries, and they would silently stop
matching its members.  The admin refuses the deletion while any audience names the tag.
"""

from __future__ import annotations

from analytics.models import Segment
from coupons.models import Audience, CouponTemplate
from membership.models import MemberDay


def _tag_ids_in_rules(node) -> set[int]:
    """The tag ids a segment's rule tree names (``{"field": "tag", "value": [ids]}`` leaves)."""
    if isinstance(node, list):
        return set().union(*(_tag_ids_in_rules(child) for child in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    if node.get("field") == "tag":
        return {int(v) for v in node.get("value") or [] if str(v).isdigit()}
    return _tag_ids_in_rules(node.get("conditions") or [])


def _ids(values) -> set[int]:
    return {int(v) for v in values or [] if str(v).isdigit()}


def audiences_using_tags(tag_ids) -> list[tuple[str, object]]:
    """``[(admin url name, object), …]``: the segments, coupon templates and member days whose audience
    names one of ``tag_ids``."""
    tag_ids = set(tag_ids)
    found: list[tuple[str, object]] = []
    for segment in Segment.objects.order_by("name"):
        if _tag_ids_in_rules(segment.rules) & tag_ids:
            found.append(("admin:analytics_segment_change", segment))
    for template in CouponTemplate.objects.filter(audience=Audience.TAGS).order_by("name"):
        if _ids(template.audience_values) & tag_ids:
            found.append(("admin:coupons_coupontemplate_change", template))
    for day in MemberDay.objects.filter(audience=MemberDay.Audience.TAGS).order_by("name"):
        if _ids(day.audience_values) & tag_ids:
            found.append(("admin:membership_memberday_change", day))
    return found
