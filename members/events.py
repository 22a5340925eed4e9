"""A member's life events that the apps above members act on: created, profile completed, phone bound.

members sits below points, coupons and membership and imports none of them: each registers what it
does at startup (``AppConfig.ready``), and members tells them, in the transaction that made the
change, in the order ``ORDER`` gives (the sign-up points are earned before the new-member gift pack
is given, whose points then meet the caps after them).  Not signals: this table and the two
``ready`` methods are the whole list, and every listener is idempotent.
"""

from collections.abc import Callable

CREATED = "created"  # member_id: the transaction that creates the member, once
PROFILE_COMPLETED = "profile_completed"  # member_id: nickname, avatar, birthday and phone all set
PHONE_BOUND = "phone_bound"  # member_id, phone

#: Who is told, in this order: points (sign-up, profile and phone rewards), then membership (the
#: new-member gift pack its policy names).
ORDER = ("points", "membership")

_LISTENERS: dict[tuple[str, str], Callable[..., object]] = {}


def member_event_listener_register(*, event: str, app: str, listener: Callable[..., object]) -> None:
    if app not in ORDER or event not in (CREATED, PROFILE_COMPLETED, PHONE_BOUND):
        raise ValueError(f"unknown member event listener {app}:{event}")
    _LISTENERS[(event, app)] = listener


def member_event_tell(*, event: str, **facts) -> None:
    for app in ORDER:
        listener = _LISTENERS.get((event, app))
        if listener is not None:
            listener(**facts)
