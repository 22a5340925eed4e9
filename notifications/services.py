"""Every reminder goes through ``notify_many``.

Channels deliver a batch of drafts, inside the caller's transaction:

1. the database channel (the member's inbox in the mini-program) always
   runs and decides what is new: a draft whose (member, dedupe_key) was
   delivered before goes nowhere, on any channel;
2. the WeChat subscription-message channel (订阅消息) takes the new drafts
   whose kind an operator mapped to a template, spends one send credit of
   the member for each (a credit is one ``accept`` the mini-program
   reported) and writes a ``WechatDelivery`` row — the outbox.  A member
   without a credit gets the inbox message only.  The message itself is
   sent after the caller commits, by a task, never inside the caller's
   transaction; a periodic job retries what is still pending.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from loyalty.enqueue import enqueue_on_commit
from notifications import sql, wechat
from notifications.exceptions import UnknownTemplate
from notifications.models import (
    ConsentResult,
    DeliveryStatus,
    Notification,
    SubscribeConsent,
    WechatDelivery,
    WechatTemplate,
)

log = logging.getLogger(__name__)

SEND_CHUNK = 50
MAX_ATTEMPTS = 8
BREAKER = 5  # transient failures in a row that end a sending run (WeChat is down: try again next minute)
# A claimed delivery is not picked again while its sender may still be at it: longer than a chunk
# can take (the breaker stops a run after a few timeouts).
LEASE = timedelta(minutes=10)
MAX_UNSPENT_CREDITS = 100  # per member and template: a bound on what a looping client can pile up
CREDIT_RESULTS = (ConsentResult.ACCEPT, ConsentResult.RETURNED)


@dataclass(frozen=True)
class Draft:
    member_id: int
    kind: str
    title: str
    body: str
    dedupe_key: str
    data: dict = field(default_factory=dict)


class DatabaseChannel:
    name = "database"

    def deliver(self, drafts: list[Draft]) -> list[Draft]:
        """Insert the drafts not delivered before; returns the new ones."""
        now = timezone.now()
        new: list[Draft] = []
        with sql.db_cursor() as cursor:
            for start in range(0, len(drafts), 1000):
                batch = drafts[start : start + 1000]
                inserted = sql.insert_notifications(
                    cursor,
                    now,
                    [d.member_id for d in batch],
                    [d.kind for d in batch],
                    [d.title for d in batch],
                    [d.body for d in batch],
                    [json.dumps(d.data) for d in batch],
                    [d.dedupe_key for d in batch],
                )
                for draft in batch:  # a key twice in one batch: the first draft is the one inserted
                    if (draft.member_id, draft.dedupe_key) in inserted:
                        inserted.discard((draft.member_id, draft.dedupe_key))
                        new.append(draft)
        return new


class WechatChannel:
    name = "wechat"

    def deliver(self, drafts: list[Draft]) -> list[int]:
        """Queue a subscription message for each new draft whose member has a credit; returns the delivery ids."""
        if not drafts or not wechat.enabled():
            return []
        templates = {
            t.kind: t
            for t in WechatTemplate.objects.filter(kind__in={d.kind for d in drafts}, is_active=True)
        }
        if not templates:
            return []
        # Most members hold no credit: render and send to the database only the drafts of those who do.
        holders = _credit_holders(
            member_ids=list({d.member_id for d in drafts if d.kind in templates}),
            template_ids=list({t.template_id for t in templates.values()}),
        )
        rows = []
        for idx, draft in enumerate(drafts):
            template = templates.get(draft.kind)
            if template is None or (draft.member_id, template.template_id) not in holders:
                continue
            try:
                data = wechat.render(template.field_map, title=draft.title, body=draft.body, data=draft.data)
            except wechat.RenderError:
                log.warning("wechat template for %s names a value its drafts lack; inbox only", draft.kind)
                continue
            rows.append(
                (
                    idx,
                    draft.member_id,
                    draft.kind,
                    draft.dedupe_key,
                    template.template_id,
                    template.page,
                    data,
                )
            )
        ids: list[int] = []
        now = timezone.now()
        with sql.db_cursor() as cursor:
            for start in range(0, len(rows), 1000):
                batch = rows[start : start + 1000]
                ids += sql.spend_credits(cursor, batch, now)
        for start in range(0, len(ids), SEND_CHUNK):
            # The retry job sends them too if the broker is down.
            enqueue_on_commit("notifications.tasks.send_wechat", ids[start : start + SEND_CHUNK])
        return ids


def _credit_holders(*, member_ids: list[int], template_ids: list[str]) -> set[tuple[int, str]]:
    """(member, template) pairs with an unspent credit now (a hint: the spending statement decides)."""
    return sql.credit_holders(member_ids, template_ids)


DATABASE = DatabaseChannel()
WECHAT = WechatChannel()


@transaction.atomic
def notify_many(drafts: Iterable[Draft]) -> int:
    """Deliver the drafts on every channel; returns how many were new (not delivered before)."""
    drafts = list(drafts)
    if not drafts:
        return 0
    new = DATABASE.deliver(drafts)
    WECHAT.deliver(new)
    return len(new)


def notification_mark_read(*, member_id: int, notification_id: int) -> bool:
    return bool(
        Notification.objects.filter(pk=notification_id, member_id=member_id, read_at__isnull=True).update(
            read_at=timezone.now()
        )
    )


# --- consent: what the mini-program's wx.requestSubscribeMessage answered ---------------------------


def subscription_report(*, member_id: int, results: dict[str, str]) -> dict[str, int]:
    """Record the member's answer per template id; each ``accept`` is one send credit.

    Template ids must be ones an operator mapped (active or not); otherwise
    ``unknown_template`` and nothing is written.  Unspent credits per member
    and template are capped at ``MAX_UNSPENT_CREDITS`` (accepts beyond it are
    recorded as nothing).  Idempotency comes from the API's Idempotency-Key.
    Returns the member's unspent credits for each reported template id.
    """
    known = set(
        WechatTemplate.objects.filter(template_id__in=list(results)).values_list("template_id", flat=True)
    )
    unknown = sorted(set(results) - known)
    if unknown:
        raise UnknownTemplate(details={"template_ids": unknown})
    with transaction.atomic():
        credits = subscription_credits(member_id=member_id, template_ids=list(results))
        rows = []
        for template_id, result in results.items():
            if result == ConsentResult.ACCEPT:
                if credits[template_id] >= MAX_UNSPENT_CREDITS:
                    continue
                credits[template_id] += 1
            rows.append(SubscribeConsent(member_id=member_id, template_id=template_id, result=result))
        SubscribeConsent.objects.bulk_create(rows)
    return credits


def subscription_credits(*, member_id: int, template_ids: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(template_ids, 0)
    counts.update(sql.credits(member_id, template_ids))
    return counts


# --- the outbox: sending and retrying ------------------------------------------------------------


def _claim(*, ids: list[int] | None, limit: int, now: datetime) -> list[sql.Claimed]:
    """Take up to ``limit`` due deliveries for this sender: their next attempt moves a lease ahead."""
    with transaction.atomic(), sql.db_cursor() as cursor:
        rows = sql.claim(cursor, ids=ids, limit=limit, now=now, lease_until=now + LEASE)
    return sorted(rows)


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(2 ** (attempts - 1), 60))


def _record(row: sql.Claimed, outcome: wechat.Outcome) -> str:
    delivery_id, member_id, template_id, attempts = row.id, row.member_id, row.template_id, row.attempts
    now = timezone.now()
    deliveries = WechatDelivery.objects.filter(pk=delivery_id)
    with transaction.atomic():
        if outcome.status == "sent":  # whatever happened meanwhile, WeChat has it: record the truth
            deliveries.update(
                status=DeliveryStatus.SENT, sent_at=now, errcode=0, error="", msgid=outcome.msgid
            )
            return DeliveryStatus.SENT
        pending = deliveries.filter(status=DeliveryStatus.PENDING)
        if outcome.status == "retry" and attempts < MAX_ATTEMPTS:
            pending.update(
                next_attempt_at=now + _backoff(attempts), errcode=outcome.errcode, error=outcome.error[:200]
            )
            return DeliveryStatus.PENDING
        failed = pending.update(
            status=DeliveryStatus.FAILED,
            next_attempt_at=None,
            errcode=outcome.errcode,
            error=outcome.error[:200],
        )
        if failed and outcome.return_credit:
            SubscribeConsent.objects.create(
                member_id=member_id, template_id=template_id, result=ConsentResult.RETURNED
            )
        return DeliveryStatus.FAILED


def wechat_deliveries_send(*, delivery_ids: list[int] | None = None, limit: int = 1000, now=None) -> dict:
    """Send due pending deliveries (only ``delivery_ids`` when given); returns counts by resulting status.

    Safe to run twice and beside itself: each chunk is claimed with ``SKIP
    LOCKED`` and a lease, committed before WeChat is called, so two senders
    never take the same delivery and no transaction is open during a call.
    A sender killed mid-call leaves its deliveries pending until the lease
    ends, then they are sent again (at least once, never silently lost).

    When WeChat is down, a run stops after ``BREAKER`` transient failures in
    a row and hands the rest of its chunk back untouched (no attempt counted),
    so an outage costs a few timeouts per run, not one per message, and a
    run stays well inside its lease and its task's time limit.
    """
    counts = {DeliveryStatus.SENT: 0, DeliveryStatus.PENDING: 0, DeliveryStatus.FAILED: 0}
    if not wechat.enabled():
        return counts
    done, failing = 0, 0
    with wechat.SubscribeSender() as sender:
        while done < limit and failing < BREAKER:
            rows = _claim(ids=delivery_ids, limit=min(SEND_CHUNK, limit - done), now=now or timezone.now())
            if not rows:
                break
            for position, row in enumerate(rows):
                if failing >= BREAKER:
                    _release(rows[position:])
                    break
                outcome = sender.send(
                    openid=row.openid, template_id=row.template_id, page=row.page, data=row.data
                )
                failing = failing + 1 if outcome.status == "retry" else 0
                counts[_record(row, outcome)] += 1
            done += len(rows)
    return counts


def _release(rows: list[sql.Claimed]) -> None:
    """Hand claimed deliveries back unsent: due again in a minute, the claim's attempt not counted."""
    WechatDelivery.objects.filter(pk__in=[row.id for row in rows], status=DeliveryStatus.PENDING).update(
        attempts=F("attempts") - 1, next_attempt_at=timezone.now() + timedelta(minutes=1)
    )


def wechat_subscriptions_drop(*, member_id: int, reason: str) -> int:
    """The member closed their account: cancel their unsent messages and drop their unspent credits.

    Returns how many messages were cancelled.  Sent and failed deliveries
    stay, with the credits they spent, as the record.
    """
    cancelled = WechatDelivery.objects.filter(member_id=member_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.CANCELLED, next_attempt_at=None, error=reason[:200]
    )
    SubscribeConsent.objects.filter(member_id=member_id, delivery__isnull=True).delete()
    return cancelled
