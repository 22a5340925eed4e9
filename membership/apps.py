from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembershipConfig(AppConfig):
    """The membership programme (tiers, growth, cards, member days); identity stays in ``members``."""

    name = "membership"
    verbose_name = _("Membership")

    def ready(self):
        # Points sit below the programme and import none of it: the programme tells points where a
        # member's multiplier comes from and what to do when points are earned (cards granted for points).
        # Looked up at call time, so a test's monkeypatch of either function holds.
        from membership import benefits, cards
        from points import earning

        earning.points_multiplier_source_register(
            source=lambda *, member_id, at: benefits.points_multiplier(member_id=member_id, at=at)
        )
        earning.points_earned_listener_register(
            name="membership.cards",
            listener=lambda *, member_id: cards.cards_grant_for_points(member_id=member_id),
        )
