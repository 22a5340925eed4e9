from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PointsConfig(AppConfig):
    name = "points"
    verbose_name = _("Points")

    def ready(self):
        # Members sit below points and import none of it: points tell members what they pay for its events.
        from members import events
        from points import earning

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
