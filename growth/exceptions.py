from django.utils.translation import gettext_lazy as _

from loyalty.errors import ApplicationError, NotFound, ServiceUnavailable


class ActivityNotFound(NotFound):
    code = "activity_not_found"
    default_message = _("No such group-buy activity.")


class GroupNotFound(NotFound):
    code = "group_not_found"
    default_message = _("No such group.")


class ActivityNotOpen(ApplicationError):
    code = "activity_not_open"
    status_code = 409
    default_message = _("This activity is not open now.")


class GroupSoldOut(ApplicationError):
    code = "sold_out"
    status_code = 409
    default_message = _("Every unit of this activity is taken.")


class GroupFull(ApplicationError):
    code = "group_full"
    status_code = 409
    default_message = _("This group is full.")


class GroupExpired(ApplicationError):
    code = "group_expired"
    status_code = 409
    default_message = _("This group has closed.")


class AlreadyInGroup(ApplicationError):
    code = "already_in_group"
    status_code = 409
    default_message = _("You already have a place in this group.")


class GroupBuyLimitReached(ApplicationError):
    code = "group_buy_limit_reached"
    status_code = 409
    default_message = _("You have joined this activity as many times as allowed.")


class NewMembersOnly(ApplicationError):
    code = "new_members_only"
    status_code = 403
    default_message = _("Only members who registered since the activity started may join its groups.")


class ActivityLocked(ApplicationError):
    code = "activity_started"
    status_code = 409
    default_message = _(
        "The activity has started: its price and group size cannot change, nor its units drop below those taken."
    )


class BargainNotFound(NotFound):
    code = "bargain_not_found"
    default_message = _("No such bargain.")


class BargainClosed(ApplicationError):
    code = "bargain_closed"
    status_code = 409
    default_message = _("This bargain has ended or is being paid for.")


class BargainAtFloor(ApplicationError):
    code = "bargain_at_floor"
    status_code = 409
    default_message = _("This bargain has reached its floor price.")


class OwnBargain(ApplicationError):
    code = "own_bargain"
    status_code = 409
    default_message = _("You cannot cut the price of your own bargain.")


class AlreadyHelped(ApplicationError):
    code = "already_helped"
    status_code = 409
    default_message = _("You have already cut this bargain.")


class HelpLimitReached(ApplicationError):
    code = "help_limit_reached"
    status_code = 409
    default_message = _("You have cut as many bargains today as allowed.")


class NewHelpersOnly(ApplicationError):
    code = "new_members_only"
    status_code = 403
    default_message = _("Only members who registered since the activity started may cut these bargains.")


class NotAtFloor(ApplicationError):
    code = "bargain_not_at_floor"
    status_code = 409
    default_message = _("This bargain can be bought only once it reaches its floor price.")


class BargainLimitReached(ApplicationError):
    code = "bargain_limit_reached"
    status_code = 409
    default_message = _("You have started as many bargains of this activity as allowed.")


class NotRefundable(ApplicationError):
    code = "not_refundable"
    status_code = 409
    default_message = _("Only a completed group place or a bought bargain can be refunded here.")


class PosterTargetNotFound(NotFound):
    code = "poster_target_not_found"
    default_message = _("There is nothing of yours to share here: no such group, bargain, item or card.")


class PosterSceneNotFound(NotFound):
    code = "poster_scene_not_found"
    default_message = _("This poster's code is unknown.")


class PosterFontMissing(ServiceUnavailable):
    code = "poster_font_missing"
    default_message = _("Posters cannot be drawn: the Chinese font is not installed on the server.")
