"""Notification benchmark: a reminder job through ``notify_many`` with the WeChat channel on.

Every member gets one reminder (inbox row); a third of them hold a
subscription credit for the reminder's template, so for those the channel
renders the message, spends the credit and writes the outbox row.  The
baseline is hand-written SQL doing the same writes per chunk (one statement:
inbox rows, the credit picked and spent, the outbox row with a pre-rendered
message) on a fresh copy of the same data.  Sending to WeChat is not
measured: it happens after commit, in a task.
"""

from __future__ import annotations

import json
import statistics
import time
from unittest import mock

from bench.common import (
    Figure,
    Harness,
    benchmark,
    copy_members,
    copy_rows,
    indexes_dropped,
    reset_sequences,
)

APP_MODULES = ("notifications.services",)
CHUNK = 5000
TEMPLATE = "bench-points"
KEY = "points_expiring:2026-11-20"
DATA = {"points": 30, "expires_at": "2026-11-20T16:00:00+00:00"}


def _load(members: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from notifications.models import WechatTemplate

    now = timezone.now()
    with connection.cursor() as cur, indexes_dropped(cur, ["members_member"]):
        copy_members(cur, members, now)
        reset_sequences(cur, ["members_member"])
    with connection.cursor() as cur:
        copy_rows(
            cur,
            "notifications_subscribeconsent",
            ["member_id", "template_id", "result", "created_at"],
            ((m, TEMPLATE, "accept", now) for m in range(1, members + 1, 3)),
        )
        reset_sequences(cur, ["notifications_subscribeconsent"])
    WechatTemplate.objects.create(
        kind="points_expiring",
        template_id=TEMPLATE,
        page="pages/points/index",
        field_map={"thing1": "{title}", "number2": "{points}", "date3": "{expires_at|date}"},
    )


def _service(members: int) -> None:
    from notifications.services import Draft, notify_many

    for start in range(1, members + 1, CHUNK):
        notify_many(
            Draft(
                member_id=m,
                kind="points_expiring",
                title="积分即将过期",
                body="30 积分将于 2026-11-20 后过期",
                dedupe_key=KEY,
                data=DATA,
            )
            for m in range(start, min(start + CHUNK, members + 1))
        )


_RAW = """
WITH n AS (
    INSERT INTO notifications_notification (member_id, kind, title, body, data, dedupe_key, created_at)
    SELECT m, 'points_expiring', '积分即将过期', '30 积分将于 2026-11-20 后过期', %(data)s::jsonb, %(key)s, now()
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) m
    ON CONFLICT (member_id, dedupe_key) DO NOTHING RETURNING member_id
), locked AS (
    SELECT id, member_id FROM notifications_subscribeconsent
    WHERE member_id BETWEEN %(first)s AND %(last)s AND template_id = %(template)s
      AND result IN ('accept', 'returned') AND spent_at IS NULL
    FOR UPDATE SKIP LOCKED
), c AS (
    SELECT DISTINCT ON (member_id) id, member_id FROM locked WHERE member_id IN (SELECT member_id FROM n)
    ORDER BY member_id, id
), d AS (
    INSERT INTO notifications_wechatdelivery (member_id, kind, dedupe_key, template_id, page, data, consent_id,
        status, attempts, next_attempt_at, errcode, error, msgid, created_at)
    SELECT c.member_id, 'points_expiring', %(key)s, %(template)s, 'pages/points/index', %(message)s::jsonb, c.id,
           'pending', 0, now(), NULL, '', '', now()
    FROM c ON CONFLICT (member_id, dedupe_key) DO NOTHING RETURNING consent_id
)
UPDATE notifications_subscribeconsent s SET spent_at = now() FROM d WHERE s.id = d.consent_id
"""


def _raw(members: int) -> None:
    from django.db import connection, transaction

    message = {
        "thing1": {"value": "积分即将过期"},
        "number2": {"value": "30"},
        "date3": {"value": "2026年11月21日"},
    }
    for start in range(1, members + 1, CHUNK):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                _RAW,
                {
                    "first": start,
                    "last": min(start + CHUNK, members + 1) - 1,
                    "key": KEY,
                    "template": TEMPLATE,
                    "data": json.dumps(DATA),
                    "message": json.dumps(message, ensure_ascii=False),
                },
            )


def _verify(members: int) -> None:
    from django.db import connection

    credited = len(range(1, members + 1, 3))
    with connection.cursor() as cur:
        cur.execute(
            """SELECT (SELECT count(*) FROM notifications_notification),
                      (SELECT count(*) FROM notifications_wechatdelivery),
                      (SELECT count(*) FROM notifications_subscribeconsent WHERE spent_at IS NOT NULL)"""
        )
        counts = cur.fetchone()
    assert counts == (members, credited, credited), counts


@benchmark("notifications.reminders")
def reminders(h: Harness) -> list[Figure]:
    """One reminder to every member (full: 100,000), a third of them also by WeChat, vs hand-written SQL."""
    from django.test import override_settings

    members = h.scale.members
    template = h.template(f"notifications_{members}", lambda: _load(members))
    timings = {"service": [], "raw": []}
    for round_ in range(h.scale.repeats):
        order = ["service", "raw"] if round_ % 2 == 0 else ["raw", "service"]
        for side in order:
            with h.copy_of(template), override_settings(WECHAT_APP_ID="wx-bench", WECHAT_APP_SECRET="bench"):
                # After commit the task would send; here nothing is sent (not measured).
                with mock.patch("notifications.services.enqueue_on_commit"):
                    started = time.perf_counter()
                    (_service if side == "service" else _raw)(members)
                    elapsed = time.perf_counter() - started
                _verify(members)
            timings[side].append(elapsed)
            h.note(f"reminders to {members:,} members, {side} (round {round_ + 1}): {elapsed:.2f} s")
    return [
        Figure(
            f"reminder job for {members:,} members (inbox + WeChat outbox for a third), s",
            statistics.median(timings["service"]),
            statistics.median(timings["raw"]),
            "s",
            "<=",
            3.0,
        )
    ]
