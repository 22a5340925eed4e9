"""Tagging members by tag names: an import's tags (``migration``, which sits above analytics)."""

from analytics.models import MemberTag, MemberTagging


def _clean(names: list[str]) -> list[str]:
    return list(dict.fromkeys(name.strip()[:40] for name in names if name.strip()))


def member_tag_by_names(*, member_id: int, names: list[str]) -> int:
    """Create the tags missing, tag the member with each (idempotent: the tagging is unique)."""
    return members_tag_by_names(names_of={member_id: names})


def tags_create(*, names: list[str]) -> None:
    """The tags of these names that are missing (a tag that exists is kept)."""
    MemberTag.objects.bulk_create(
        [MemberTag(name=name) for name in dict.fromkeys(_clean(names))], ignore_conflicts=True
    )


def members_tag_by_names(*, names_of: dict[int, list[str]]) -> int:
    """Tag each member (``names_of``: member id → tag names) in three statements for them all: the tags
    missing created, the tags read, the taggings inserted (a tagging held already is kept).  Returns how
    many taggings are new."""
    names_of = {member_id: _clean(names) for member_id, names in names_of.items()}
    every = list(dict.fromkeys(name for names in names_of.values() for name in names))
    if not every:
        return 0
    tags_create(names=every)
    tag_of = dict(MemberTag.objects.filter(name__in=every).values_list("name", "pk"))
    made = MemberTagging.objects.bulk_create(
        [
            MemberTagging(tag_id=tag_of[name], member_id=member_id)
            for member_id, names in names_of.items()
            for name in names
        ],
        ignore_conflicts=True,
    )
    return len(made)
