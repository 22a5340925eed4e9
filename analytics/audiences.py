"""Segments and member tags as audiences, and purchase figures for the member overview, for the apps
below analytics (registered at startup).

Coupons (``segment`` and ``tags`` templates, the admin's segment chooser and tag picker) and member
days (``segment`` and ``tags`` audiences) aim at a segment or at the carriers of any of some tags; both
sit below analytics and import none of it, so analytics tells them how to ask (``AnalyticsConfig.ready``).
"""

from analytics import selectors
from analytics.models import Segment
from coupons import audience
from members import selectors as members_selectors
from membership import member_days


def _in_segment(template, member) -> bool:
    return any(
        selectors.member_in_segment(segment_id=segment_id, member_id=member.pk)
        for segment_id in selectors.segment_ids_of(template.audience_values)[:1]
    )


def _has_tag(template, member) -> bool:
    """A member carrying any one of the template's tags; no tag, or only deleted ones, is nobody."""
    tag_ids = audience.audience_values_ids(template.audience_values)
    return bool(tag_ids) and selectors.member_has_tag(member_id=member.pk, tag_ids=tag_ids)


def _segment_members(*, segment_id: int, now):
    return selectors.segment_members(segment_id=segment_id, now=now)


def register() -> None:
    audience.audience_check_register(audience="segment", check=_in_segment)
    audience.segments_source_register(
        segments=lambda: Segment.objects.all(),
        members=lambda *, segment_id: selectors.segment_members(segment_id=segment_id),
    )
    member_days.segment_members_source_register(source=_segment_members)
    audience.audience_check_register(audience="tags", check=_has_tag)
    audience.audience_choices_register(audience="tags", choices=selectors.tag_choices)
    member_days.tag_members_source_register(
        source=lambda *, tag_ids: selectors.tagged_members(tag_ids=tag_ids)
    )
    audience.tag_members_source_register(members=selectors.tagged_members)
    # The member overview counts purchases as the portrait does (one definition, analytics.facts).
    members_selectors.member_overview_part_register(name="analytics", part=selectors.member_overview_part)
