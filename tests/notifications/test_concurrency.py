"""Parallel sends with real threads, each on its own database connection."""

import pytest

from notifications import services
from notifications.models import SubscribeConsent, WechatDelivery, WechatTemplate
from tests.concurrency import run_concurrently
from tests.factories import MemberFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("many-connections")]


@pytest.fixture
def template(db):
    return WechatTemplate.objects.create(
        kind="tier_changed", template_id="TPL-TIER", field_map={"thing1": "{title}"}
    )


def draft(member, key):
    return services.Draft(
        member_id=member.pk, kind="tier_changed", title="等级变更", body="b", dedupe_key=key
    )


def test_one_consent_is_spent_once_under_twenty_parallel_reminders(fake_wechat, template):
    member = MemberFactory()
    services.subscription_report(member_id=member.pk, results={"TPL-TIER": "accept"})

    results, errors = run_concurrently(lambda i: services.notify_many([draft(member, f"event-{i}")]), 20)

    assert errors == [] and results == [1] * 20  # every reminder reaches the inbox
    assert WechatDelivery.objects.count() == 1
    assert SubscribeConsent.objects.get().spent_at is not None
    services.wechat_deliveries_send()
    assert len(fake_wechat.sent) == 1


def test_the_same_event_sent_by_ten_jobs_at_once_is_delivered_once(fake_wechat, template):
    member = MemberFactory()
    for _ in range(5):
        services.subscription_report(member_id=member.pk, results={"TPL-TIER": "accept"})

    results, errors = run_concurrently(lambda i: services.notify_many([draft(member, "same-event")]), 10)

    assert errors == [] and sorted(results) == [0] * 9 + [1]
    assert WechatDelivery.objects.count() == 1
    assert services.subscription_credits(member_id=member.pk, template_ids=["TPL-TIER"]) == {"TPL-TIER": 4}


def test_senders_running_side_by_side_send_each_message_once(fake_wechat, template, monkeypatch):
    members = [MemberFactory() for _ in range(30)]
    for member in members:
        services.subscription_report(member_id=member.pk, results={"TPL-TIER": "accept"})
    monkeypatch.setattr(services, "enqueue_on_commit", lambda *args: None)  # the broker is down
    services.notify_many([draft(m, "e") for m in members])
    assert fake_wechat.send_attempts == []

    results, errors = run_concurrently(lambda i: services.wechat_deliveries_send(), 5)

    assert errors == []
    assert sum(r["sent"] for r in results) == 30
    assert sorted(b["touser"] for b in fake_wechat.sent) == sorted(m.openid for m in members)
    assert set(WechatDelivery.objects.values_list("status", flat=True)) == {"sent"}
