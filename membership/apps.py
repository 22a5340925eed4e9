from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembershipConfig(AppConfig):
    """The membership programme (tiers, growth, cards, member days); identity stays in ``members``."""

    name = "membership"
    verbose_name = _("Membership")

    def ready(self):
        # The apps below the programme import none of it; it tells them at startup what they ask of it:
        # members, the new-member gift pack and the overview's tier and cards; coupons, the tier and
        # card-holder audiences; points, a member's multiplier and what to do when points are earned
        # (cards granted for points).  Looked up at call time, so a monkeypatch holds.
        from coupons.models import OCCASIONS
        from loyalty.labels import REASONS
        from members import events
        from members import selectors as members_selectors
        from membership import audiences, benefits, cards, services
        from membership import selectors as membership_selectors
        from notifications.models import KINDS
        from points import earning

        KINDS.register(
            [
                ("tier_change", _("tier changed")),
                ("member_day", _("member day")),
                ("card_expiring", _("card expiring")),
                ("card_renewal", _("card renewal due")),
                ("card_revoked", _("card withdrawn")),
            ]
        )
        REASONS.register([(cards.REVOKED_BEFORE_PAYMENT, _("card revoked before its payment arrived"))])
        OCCASIONS.register(
            [
                ("new_member", _("new member gift")),
                ("tier-upgrade", _("tier upgrade gift")),
                ("card-open", _("card opening gift")),
                ("card-monthly", _("card monthly gift")),
                ("birthday", _("birthday gift")),
                ("member-day", _("member day")),
            ]
        )
        audiences.register()
        events.member_event_listener_register(
            event=events.CREATED, app="membership", listener=services.member_welcome_gift
        )
        earning.points_multiplier_source_register(
            source=lambda *, member_id, at: benefits.points_multiplier(member_id=member_id, at=at)
        )
        earning.points_earned_listener_register(
            name="membership.cards",
            listener=lambda *, member_id: cards.cards_grant_for_points(member_id=member_id),
        )
        members_selectors.member_overview_part_register(
            name="membership", part=membership_selectors.member_overview_part
        )
