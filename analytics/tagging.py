"""Tagging a member by tag names: the tagger ``members.tagging`` asks for (an import's tags)."""

from analytics.models import MemberTag, MemberTagging


def member_tag_by_names(*, member_id: int, names: list[str]) -> int:
    """Create the tags missing, tag the member with each (idempotent: the tagging is unique)."""
    names = list(dict.fromkeys(name.strip()[:40] for name in names if name.strip()))
    MemberTag.objects.bulk_create([MemberTag(name=name) for name in names], ignore_conflicts=True)
    tags = MemberTag.objects.filter(name__in=names)
    made = MemberTagging.objects.bulk_create(
        [MemberTagging(tag=tag, member_id=member_id) for tag in tags], ignore_conflicts=True
    )
    return len(made)
