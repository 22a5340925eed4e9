from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PointsConfig(AppConfig):
    name = "points"
    verbose_name = _("Points")

    def ready(self):
        # Members sit below points and import none of it: points tell members what they pay for its events
        # and what the member's "me" page and overview show of points.
        from members import events
        from members import selectors as members_selectors
        from notifications.models import KINDS
        from points import earning
        from points import selectors as points_selectors
        from points.reminders import KIND

        KINDS.register([(KIND, _("points expiring"))])

        events.member_event_listener_register(
            event=events.CREATED,
            app="points",
            listener=lambda *, member_id: earning.points_award_signup(member_id=member_id),
        )
        events.member_event_listener_register(
            event=events.PROFILE_COMPLETED,
            app="points",
            listener=lambda *, member_id: earning.points_award_profile_completed(member_id=member_id),
        )
        events.member_event_listener_register(
            event=events.PHONE_BOUND,
            app="points",
            listener=lambda *, member_id, phone: earning.points_phone_bound(member_id=member_id, phone=phone),
        )
        members_selectors.member_summary_part_register(
            name="points", part=points_selectors.member_summary_part
        )
        members_selectors.member_overview_part_register(
            name="points", part=points_selectors.member_overview_part
        )
