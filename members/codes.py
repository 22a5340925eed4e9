"""会员码, the dynamic member code: issued to the member's app, resolved by the till, bound to one order.

A code is 18 random digits (the length of a payment code, so the till's scanner reads it as one)
starting with ``PREFIX``, stored with a unique index, valid ``MEMBER_CODE_SECONDS``.  Random rather
than an HMAC of (member, time window): a code has to be stored anyway to be bound to the one order it
pays for, and a stored random code is refused the moment it is replaced, which no time window can do.
16 random digits against a per-store rate limit make guessing a live code hopeless, and a code
stolen from a screenshot gives at most its remaining seconds.

Refusals are stable codes: ``member_code_invalid`` (no such code), ``member_code_expired`` (expired, or
replaced by a newer one), ``member_code_used`` (bound to another order), ``member_closed``.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty.locks import Rank, takes
from members import sql
from members.exceptions import MemberClosed, MemberCodeExpired, MemberCodeInvalid, MemberCodeUsed
from members.models import Member, MemberCode

PREFIX = "66"  # not a WeChat Pay (10–15) or Alipay (25–30) payment-code prefix: the till tells them apart
CODE_RE = re.compile(r"^66\d{16}$")
QR_SCHEME = "member-code:"  # the QR payload: a scanner at the clerk's page knows what it is at once
_ATTEMPTS = 5


def _new_code() -> str:
    return PREFIX + f"{secrets.randbelow(10**16):016d}"


def qr_payload(code: str) -> str:
    return QR_SCHEME + code


def parse(text: str) -> str | None:
    """The code in what was scanned or typed (the bare digits or the QR payload), or None."""
    text = (text or "").strip()
    if text.startswith(QR_SCHEME):
        text = text[len(QR_SCHEME) :]
    return text if CODE_RE.match(text) else None


def member_code_issue(*, member: Member, now=None) -> MemberCode:
    """A fresh code for ``member``, replacing the live one (one live code per member). Not for a closed
    account (``member_closed``).

    Two issues at once for one member: the partial unique index lets one live code through; the other
    attempt rolls back and replaces it.
    """
    if member.closed_at is not None:
        raise MemberClosed()
    for attempt in range(_ATTEMPTS):
        now = now if attempt == 0 and now is not None else timezone.now()
        try:
            with transaction.atomic():
                MemberCode.objects.filter(member=member, replaced_at__isnull=True).update(replaced_at=now)
                return MemberCode.objects.create(
                    code=_new_code(),
                    member=member,
                    issued_at=now,
                    expires_at=now + timedelta(seconds=settings.MEMBER_CODE_SECONDS),
                )
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def member_code_check(*, code: str, order_no: str = "", now=None) -> MemberCode:
    """The live code ``code`` with its member (the fields the till shows), or a stable refusal; writes
    nothing.

    A code already bound to ``order_no`` is accepted for that order even past its expiry (the till
    retrying the same order, e.g. while the member confirms a payment); for any other order a bound code
    is ``member_code_used``.
    """
    now = now or timezone.now()
    parsed = parse(code)
    row = sql.member_code_row(parsed) if parsed is not None else None
    if row is None:
        raise MemberCodeInvalid()
    found = MemberCode(
        id=row.id,
        code=parsed,
        member_id=row.member_id,
        expires_at=row.expires_at,
        replaced_at=row.replaced_at,
        order_no=row.order_no,
    )
    # The member as far as the till shows it (one statement: resolutions are the counter's hot path).
    found.member = Member(
        id=row.member_id,
        nickname=row.nickname,
        phone=row.phone,
        registered_at=row.registered_at,
        closed_at=row.closed_at,
    )
    if found.member.closed_at is not None:
        raise MemberClosed()
    if found.order_no:
        if order_no and found.order_no == order_no:
            return found
        raise MemberCodeUsed()
    if found.replaced_at is not None or found.expires_at <= now:
        raise MemberCodeExpired()
    return found


def member_of_code(*, code: str) -> int:
    """The member a code was issued to, whatever its state (a replayed order answers as a replay)."""
    parsed = parse(code)
    member_id = (
        MemberCode.objects.filter(code=parsed).values_list("member_id", flat=True).first()
        if parsed is not None
        else None
    )
    if member_id is None:
        raise MemberCodeInvalid()
    return member_id


@takes(Rank.DOCUMENT)
def member_code_bind(*, code: str, order_no: str, now=None) -> int:
    """Bind the code to ``order_no`` (inside the caller's transaction); returns the member id.

    One conditional UPDATE: of two orders racing for one code, the second waits for the first's row
    lock and then finds the code bound (``member_code_used``).  Binding again to the same order is a
    no-op.
    """
    now = now or timezone.now()
    parsed = parse(code)
    if parsed is None:
        raise MemberCodeInvalid()
    member_id = sql.bind_member_code(code=parsed, order_no=order_no, now=now)
    if member_id is None:
        member_code_check(code=parsed, order_no=order_no, now=now)  # raises the precise refusal
        raise MemberCodeExpired()  # bound or expired between the two statements
    return member_id


def member_codes_prune(*, older_than: timedelta = timedelta(days=1), now=None, chunk_size: int = 5000) -> int:
    """Delete codes issued before ``older_than`` ago that no order is bound to; how many. In chunks.

    A bound code stays as long as its order may be replayed (the order keeps the member anyway).
    """
    cutoff = (now or timezone.now()) - older_than
    deleted = 0
    while True:
        ids = list(
            MemberCode.objects.filter(issued_at__lt=cutoff, order_no="").values_list("pk", flat=True)[
                :chunk_size
            ]
        )
        if not ids:
            return deleted
        deleted += MemberCode.objects.filter(pk__in=ids, order_no="").delete()[0]
