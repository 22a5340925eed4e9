"""The notifications app's raw statements (notifications/sql.py) write and read what the ORM would."""

import pytest
from django.db import connection, transaction
from django.utils import timezone

from notifications import sql
from notifications.models import Notification, SubscribeConsent
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_notifications_are_inserted_once_per_key_as_the_orm_reads_them():
    a, b = MemberFactory(), MemberFactory()
    now = timezone.now()
    with connection.cursor() as cur:
        new = sql.insert_notifications(
            cur, now, [a.pk, b.pk, a.pk], ["k", "k", "k"], ["t1", "t2", "t3"], ["b", "b", "b"],
            ['{"x": 1}', "{}", "{}"], ["d1", "d1", "d1"],
        )  # fmt: skip
    assert new == {(a.pk, "d1"), (b.pk, "d1")}
    stored = Notification.objects.get(member=a, dedupe_key="d1")
    assert (stored.kind, stored.title, stored.data, stored.created_at) == ("k", "t1", {"x": 1}, now)
    assert Notification.objects.count() == 2


def test_credits_and_their_holders_are_what_the_orm_counts():
    a, b = MemberFactory(), MemberFactory()
    for member, template, result in [
        (a, "T1", "accept"),
        (a, "T1", "returned"),
        (a, "T2", "reject"),
        (b, "T2", "accept"),
    ]:
        SubscribeConsent.objects.create(member=member, template_id=template, result=result)
    SubscribeConsent.objects.filter(member=b).update(spent_at=timezone.now())
    assert sql.credits(a.pk, ["T1", "T2"]) == {"T1": 2}
    assert sql.credit_holders([a.pk, b.pk], ["T1", "T2"]) == {(a.pk, "T1")}
    with transaction.atomic(), connection.cursor() as cur:
        assert sql.claim(cur, ids=None, limit=10, now=timezone.now(), lease_until=timezone.now()) == []
