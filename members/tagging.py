"""Putting operators' tags (标签) on a member by name, for the apps that cannot import the tags' owner.

Tags belong to analytics (``analytics.models.MemberTag``); an import from another system (the
migration app, analytics' sibling in the layers) brings members with their tags.  Analytics
registers its tagger here at startup (``AnalyticsConfig.ready``), as for ``members.events``.
"""

from collections.abc import Callable

_TAGGER: list[Callable[..., int]] = []


def member_tagger_register(*, tagger: Callable[..., int]) -> None:
    _TAGGER[:] = [tagger]


def member_tag(*, member_id: int, names: list[str]) -> int:
    """Tag the member with each name (tags created as needed; a tag held already is kept); returns how
    many taggings are new.  No tagger registered (analytics not installed): nothing to do."""
    if not _TAGGER or not names:
        return 0
    return _TAGGER[0](member_id=member_id, names=names)
