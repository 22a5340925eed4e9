"""Who a share scene attributes a new member to: the scene of a poster's mini-program code, resolved by
the app that printed it.

A mini-program code opened from a poster hands the page its ``scene`` (32 characters at most), which
the mini-program sends at login (``poster_scene``).  The scenes are growth's (a row per sharer and
target, ``growth.posters``), and members sits below growth, so growth registers its resolver at startup
(``AppConfig.ready``), as ``members/events.py``'s listeners do.  A scene names its sharer only through
that row, made when the sharer asked for the poster, so no one can write a scene that credits someone
else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SceneAttribution:
    channel: str  # the registration channel (an activity's, or a poster kind's)
    referrer_id: int  # the sharer


_resolver: Callable[[str], SceneAttribution | None] | None = None


def share_scene_resolver_register(resolver: Callable[[str], SceneAttribution | None]) -> None:
    global _resolver
    _resolver = resolver


def share_scene_attribution(scene: str) -> SceneAttribution | None:
    """The channel and sharer a scene stands for; None for no scene or one nobody printed."""
    if not scene or _resolver is None:
        return None
    return _resolver(scene)
