"""The WeChat subscription-message channel against a fake WeChat on loopback."""

import logging
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone, translation

from notifications import services, wechat
from notifications.models import Notification, SubscribeConsent, WechatDelivery, WechatTemplate
from tests.factories import MemberFactory
from tests.helpers import local, stopped_clock

pytestmark = pytest.mark.django_db

NOW = local(2026, 11, 15, 10)


clock = stopped_clock(NOW)


@pytest.fixture
def template(db):
    return WechatTemplate.objects.create(
        kind="points_expiring",
        template_id="TPL-POINTS",
        page="pages/points/index",
        field_map={"thing1": "{title}", "number2": "{points}", "date3": "{expires_at|date}"},
    )


def credit(member, template_id="TPL-POINTS", n=1):
    for _ in range(n):
        services.subscription_report(member_id=member.pk, results={template_id: "accept"})


def credits(member, template_id="TPL-POINTS") -> int:
    return services.subscription_credits(member_id=member.pk, template_ids=[template_id])[template_id]


def draft(member, key="points_expiring:2026-11-20", *, kind="points_expiring", points=30):
    return services.Draft(
        member_id=member.pk,
        kind=kind,
        title="积分即将过期",
        body=f"{points} 积分将过期",
        dedupe_key=key,
        data={"points": points, "expires_at": "2026-11-20T16:00:00+00:00"},
    )


def notify(django_capture_on_commit_callbacks, *drafts) -> int:
    """notify_many in its own transaction, with the after-commit send run (tasks are eager in tests)."""
    with django_capture_on_commit_callbacks(execute=True):
        return services.notify_many(drafts)


def test_a_reminder_goes_to_wechat_after_commit_and_spends_the_credit(
    fake_wechat, template, django_capture_on_commit_callbacks
):
    member = MemberFactory()
    credit(member)

    assert notify(django_capture_on_commit_callbacks, draft(member)) == 1

    assert fake_wechat.sent == [
        {
            "touser": member.openid,
            "template_id": "TPL-POINTS",
            "page": "pages/points/index",
            "data": {
                "thing1": {"value": "积分即将过期"},
                "number2": {"value": "30"},
                "date3": {"value": "2026年11月21日"},  # 16:00 UTC is the next day in Shanghai
            },
            "miniprogram_state": "formal",
            "lang": "zh_CN",
        }
    ]
    delivery = WechatDelivery.objects.get(member=member)
    assert (delivery.status, delivery.errcode, delivery.msgid, delivery.attempts) == ("sent", 0, "1", 1)
    assert delivery.sent_at == NOW
    assert delivery.consent.spent_at == NOW
    assert credits(member) == 0
    assert Notification.objects.filter(member=member).count() == 1


def test_without_a_credit_the_inbox_still_gets_it_and_wechat_nothing(
    fake_wechat, template, django_capture_on_commit_callbacks
):
    member = MemberFactory()
    services.subscription_report(member_id=member.pk, results={"TPL-POINTS": "reject"})

    assert notify(django_capture_on_commit_callbacks, draft(member)) == 1

    assert Notification.objects.filter(member=member).count() == 1
    assert not WechatDelivery.objects.exists()
    assert fake_wechat.send_attempts == []


def test_a_kind_without_a_template_goes_to_the_inbox_only(
    fake_wechat, template, django_capture_on_commit_callbacks
):
    member = MemberFactory()
    credit(member)

    notify(django_capture_on_commit_callbacks, draft(member, kind="coupons_expiring"))

    assert not WechatDelivery.objects.exists() and credits(member) == 1


def test_each_accept_pays_for_one_message(fake_wechat, template, django_capture_on_commit_callbacks):
    member = MemberFactory()
    credit(member, n=2)

    sent = notify(django_capture_on_commit_callbacks, *(draft(member, f"k{i}") for i in range(3)))

    assert sent == 3
    assert Notification.objects.filter(member=member).count() == 3
    assert len(fake_wechat.sent) == 2
    assert credits(member) == 0
    assert sorted(WechatDelivery.objects.values_list("dedupe_key", flat=True)) == ["k0", "k1"]


def test_the_same_reminder_twice_is_sent_once_and_spends_one_credit(
    fake_wechat, template, django_capture_on_commit_callbacks
):
    member = MemberFactory()
    credit(member, n=3)

    assert notify(django_capture_on_commit_callbacks, draft(member), draft(member)) == 1
    assert notify(django_capture_on_commit_callbacks, draft(member)) == 0

    assert len(fake_wechat.sent) == 1
    assert credits(member) == 2


def test_a_batch_for_many_members_spends_each_members_own_credit(
    fake_wechat, template, django_capture_on_commit_callbacks
):
    members = [MemberFactory() for _ in range(5)]
    for member in members[:3]:
        credit(member)

    notify(django_capture_on_commit_callbacks, *(draft(m) for m in members))

    assert sorted(b["touser"] for b in fake_wechat.sent) == sorted(m.openid for m in members[:3])
    assert [credits(m) for m in members] == [0, 0, 0, 0, 0]


def test_nothing_is_sent_or_spent_when_the_callers_transaction_rolls_back(
    fake_wechat, template, django_capture_on_commit_callbacks
):
    member = MemberFactory()
    credit(member)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.notify_many([draft(member)])
            raise RuntimeError("the caller failed")

    assert callbacks == []
    assert fake_wechat.send_attempts == []
    assert not WechatDelivery.objects.exists() and not Notification.objects.exists()
    assert credits(member) == 1


def test_the_message_is_not_sent_inside_the_callers_transaction(fake_wechat, template):
    member = MemberFactory()
    credit(member)

    services.notify_many([draft(member)])  # the test transaction never commits: no on-commit send

    assert fake_wechat.send_attempts == []
    assert WechatDelivery.objects.get(member=member).status == "pending"


def test_the_access_token_is_fetched_once_and_cached_until_shortly_before_it_expires(
    fake_wechat, template, django_capture_on_commit_callbacks
):
    members = [MemberFactory() for _ in range(3)]
    for member in members:
        credit(member)

    notify(django_capture_on_commit_callbacks, *(draft(m) for m in members))
    notify(django_capture_on_commit_callbacks, draft(members[0], "other"))

    assert len(fake_wechat.sent) == 3
    assert fake_wechat.tokens_issued == ["token-1"]
    ttl = cache._cache.get_client().ttl(cache.make_key("wechat:access_token"))
    assert 6800 <= ttl <= 6900  # expires_in 7200, renewed 5 minutes early


@pytest.mark.parametrize("invalidate", ["expire_tokens", "revoke_tokens"])
def test_an_expired_or_revoked_token_is_replaced_and_the_message_sent(
    fake_wechat, template, django_capture_on_commit_callbacks, invalidate
):
    first, second = MemberFactory(), MemberFactory()
    credit(first)
    credit(second)
    notify(django_capture_on_commit_callbacks, draft(first))
    getattr(fake_wechat, invalidate)()

    notify(django_capture_on_commit_callbacks, draft(second))

    assert [b["touser"] for b in fake_wechat.sent] == [first.openid, second.openid]
    assert fake_wechat.tokens_issued == ["token-1", "token-2"]
    assert WechatDelivery.objects.get(member=second).status == "sent"


@pytest.mark.parametrize(
    ("errcode", "credit_back"),
    [(43101, 0), (40003, 0), (47003, 1), (40037, 1)],
)
def test_a_refusal_is_recorded_and_never_retried(
    fake_wechat, template, django_capture_on_commit_callbacks, clock, errcode, credit_back
):
    member = MemberFactory()
    credit(member)
    fake_wechat.send_errors[member.openid] = errcode

    notify(django_capture_on_commit_callbacks, draft(member))

    delivery = WechatDelivery.objects.get(member=member)
    assert (delivery.status, delivery.errcode, delivery.attempts) == ("failed", errcode, 1)
    assert delivery.error == f"error {errcode}"
    assert credits(member) == credit_back  # WeChat refused our data, not the member: the credit comes back
    clock.move_to(NOW + timedelta(days=1))
    assert services.wechat_deliveries_send() == {"sent": 0, "pending": 0, "failed": 0}
    assert len(fake_wechat.send_attempts) == 1


def test_wechat_being_busy_is_retried_later_and_then_sent(
    fake_wechat, template, django_capture_on_commit_callbacks, clock
):
    member = MemberFactory()
    credit(member)
    fake_wechat.send_errors[member.openid] = -1

    notify(django_capture_on_commit_callbacks, draft(member))

    delivery = WechatDelivery.objects.get(member=member)
    assert (delivery.status, delivery.errcode, delivery.attempts) == ("pending", -1, 1)
    assert delivery.next_attempt_at == NOW + timedelta(minutes=1)
    assert services.wechat_deliveries_send() == {"sent": 0, "pending": 0, "failed": 0}  # not due yet

    del fake_wechat.send_errors[member.openid]
    clock.move_to(NOW + timedelta(minutes=1))
    assert services.wechat_deliveries_send() == {"sent": 1, "pending": 0, "failed": 0}

    delivery.refresh_from_db()
    assert (delivery.status, delivery.errcode, delivery.attempts) == ("sent", 0, 2)
    assert len(fake_wechat.sent) == 1


def test_http_errors_are_retried_with_growing_delays_and_give_up_after_the_last_attempt(
    fake_wechat, template, django_capture_on_commit_callbacks, clock
):
    member = MemberFactory()
    credit(member)
    fake_wechat.send_http500 = True

    notify(django_capture_on_commit_callbacks, draft(member))
    delays = []
    moment = NOW
    for _ in range(services.MAX_ATTEMPTS - 1):
        delivery = WechatDelivery.objects.get(member=member)
        assert delivery.status == "pending" and delivery.error == "HTTP 500"
        delays.append(delivery.next_attempt_at - moment)
        moment = delivery.next_attempt_at
        clock.move_to(moment)
        services.wechat_deliveries_send()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        "failed",
        services.MAX_ATTEMPTS,
        None,
    )
    assert delays == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60)]
    assert credits(member) == 0  # WeChat may have had it: the credit is not given back


def test_a_timeout_is_retried(fake_wechat, template, settings):
    member = MemberFactory()
    credit(member)
    services.notify_many([draft(member)])
    settings.WECHAT_API_BASE = "http://127.0.0.1:9"  # nothing listens: connection refused

    assert services.wechat_deliveries_send() == {"sent": 0, "pending": 1, "failed": 0}
    delivery = WechatDelivery.objects.get(member=member)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "ConnectError" in delivery.error


def test_a_sender_that_died_mid_call_is_taken_over_once_its_lease_ends(fake_wechat, template, clock):
    member = MemberFactory()
    credit(member)
    services.notify_many([draft(member)])
    services._claim(ids=None, limit=10, now=timezone.now())  # a sender claims it, then dies

    assert services.wechat_deliveries_send() == {"sent": 0, "pending": 0, "failed": 0}
    clock.move_to(NOW + services.LEASE)
    assert services.wechat_deliveries_send() == {"sent": 1, "pending": 0, "failed": 0}
    assert len(fake_wechat.sent) == 1


def test_no_secret_or_token_reaches_the_logs(
    fake_wechat, template, django_capture_on_commit_callbacks, caplog
):
    caplog.set_level(logging.DEBUG)
    members = [MemberFactory() for _ in range(2)]
    for member in members:
        credit(member)
    fake_wechat.send_errors[members[1].openid] = 47003

    notify(django_capture_on_commit_callbacks, draft(members[0]))
    fake_wechat.expire_tokens()
    notify(django_capture_on_commit_callbacks, draft(members[1]))

    assert fake_wechat.tokens_issued == ["token-1", "token-2"]
    text = "\n".join(f"{r.getMessage()} {r.args}" for r in caplog.records)
    for secret in ["test-app-secret", "token-1", "token-2", "access_token="]:
        assert secret not in text


def test_the_channel_is_off_for_an_app_without_credentials(
    fake_wechat, template, settings, django_capture_on_commit_callbacks
):
    settings.WECHAT_APP_SECRET = ""
    member = MemberFactory()
    credit(member)

    notify(django_capture_on_commit_callbacks, draft(member))

    assert Notification.objects.filter(member=member).exists()
    assert not WechatDelivery.objects.exists() and credits(member) == 1


def test_an_inactive_template_sends_nothing(fake_wechat, template, django_capture_on_commit_callbacks):
    template.is_active = False
    template.save()
    member = MemberFactory()
    credit(member)

    notify(django_capture_on_commit_callbacks, draft(member))

    assert not WechatDelivery.objects.exists() and credits(member) == 1


def test_a_mapping_naming_a_value_the_draft_lacks_sends_to_the_inbox_only(
    fake_wechat, template, django_capture_on_commit_callbacks
):
    template.field_map = {"thing1": "{title}", "number2": "{missing}"}
    template.save()
    member = MemberFactory()
    credit(member)

    assert notify(django_capture_on_commit_callbacks, draft(member)) == 1

    assert not WechatDelivery.objects.exists() and credits(member) == 1


# --- rendering ----------------------------------------------------------------------------------


def test_rendering_cuts_free_text_to_wechats_limits_and_formats_local_times():
    data = wechat.render(
        {
            "thing1": "{title}{title}",
            "phrase2": "已经过期了呢",
            "name3": "一二三四五六七八九十十一",
            "time4": "{at|datetime}",
            "character_string5": "NO.{n}",
        },
        title="一二三四五六七八九十一",
        body="",
        data={"at": "2026-11-20T16:30:00+00:00", "n": 7},
    )

    assert data == {
        "thing1": {"value": "一二三四五六七八九十一一二三四五六七八…"},
        "phrase2": {"value": "已经过期了"},
        "name3": {"value": "一二三四五六七八九十"},
        "time4": {"value": "2026年11月21日 00:30"},
        "character_string5": {"value": "NO.7"},
    }
    assert len(data["thing1"]["value"]) == 20


@pytest.mark.parametrize(
    ("field_map", "problem"),
    [
        ({}, "at least one keyword"),
        ([], "at least one keyword"),
        ({"keyword": "x"}, "not a template keyword"),
        ({"thing1": ""}, "needs a text"),
        ({"thing1": 3}, "needs a text"),
    ],
)
def test_a_bad_field_mapping_is_explained(field_map, problem):
    with translation.override("en"):
        assert problem in " ".join(wechat.check_fields(field_map))


def test_a_bad_field_mapping_is_explained_in_chinese_to_an_operator():
    assert wechat.check_fields({"keyword": "x"}) == ["keyword 不是模板关键词（如 thing1、number2）。"]


def test_a_good_field_mapping_has_no_problems():
    assert (
        wechat.check_fields({"thing1": "{title}", "date2": "{expires_at|date}", "thing3": "请及时使用"}) == []
    )


def test_consents_are_rows_the_member_can_see_counted(template):
    member = MemberFactory()
    credit(member, n=2)
    services.subscription_report(member_id=member.pk, results={"TPL-POINTS": "reject"})

    assert list(
        SubscribeConsent.objects.filter(member=member).order_by("id").values_list("result", flat=True)
    ) == [
        "accept",
        "accept",
        "reject",
    ]
    assert credits(member) == 2


def test_an_outage_stops_a_run_after_a_few_failures_and_hands_the_rest_back_unattempted(
    fake_wechat, template
):
    members = [MemberFactory() for _ in range(10)]
    for member in members:
        credit(member)
    services.notify_many([draft(m) for m in members])
    fake_wechat.send_http500 = True

    assert services.wechat_deliveries_send() == {"sent": 0, "pending": services.BREAKER, "failed": 0}

    assert fake_wechat.requests.count("/cgi-bin/message/subscribe/send") == services.BREAKER
    rows = list(WechatDelivery.objects.order_by("id").values_list("status", "attempts", "next_attempt_at"))
    assert rows[: services.BREAKER] == [("pending", 1, NOW + timedelta(minutes=1))] * services.BREAKER
    assert rows[services.BREAKER :] == [("pending", 0, NOW + timedelta(minutes=1))] * (10 - services.BREAKER)
