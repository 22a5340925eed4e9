"""The members app's raw statements (members/sql.py) select what the ORM selects."""

import pytest
from django.db import transaction
from django.utils import timezone

from members import sql
from members.models import Member
from members.receiving import lock_receiving, receiving_q, receiving_sql
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_the_members_locked_as_receiving_are_those_the_orm_finds_receiving():
    members = [MemberFactory() for _ in range(4)]
    Member.objects.filter(pk=members[1].pk).update(closed_at=timezone.now())
    ids = [m.pk for m in members] + [0]
    expected = set(Member.objects.filter(receiving_q(), pk__in=ids).values_list("pk", flat=True))
    with transaction.atomic():
        assert sql.lock_members(ids, receiving_sql("m")) == expected == lock_receiving(member_ids=ids)
        assert members[1].pk not in expected and len(expected) == 3
