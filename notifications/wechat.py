"""WeChat subscription messages (订阅消息): rendering a draft into a template, and sending it.

Sending is ``POST {WECHAT_API_BASE}/cgi-bin/message/subscribe/send?access_token=…``
with the access token of ``members.wechat.WechatClient`` (one token per app,
cached in Redis until five minutes before it expires).  A token WeChat calls
invalid or expired (40001, 42001) is replaced and the send tried once more.

Every outcome is classified here, once:

- ``sent`` (errcode 0);
- ``retry``: WeChat or the network is unwell (timeouts, HTTP 5xx, -1 system
  busy, 45009 rate limit) — the outbox tries again later, a bounded number
  of times;
- ``failed``: WeChat refused this message for good (43101 the member has no
  subscription left, 40003 bad openid, 47003 bad data, 40037 bad template
  id, 41030 bad page …).  For the refusals that mean *our* data was wrong,
  the member's one-time subscription was not used at WeChat's end, so the
  credit is given back (``return_credit``).

Nothing here logs a URL or a body: they carry the access token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import httpx
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from members.exceptions import WechatUnavailable
from members.wechat import WechatClient

SEND_PATH = "/cgi-bin/message/subscribe/send"
TOKEN_INVALID = {40001, 42001, 40014}
TRANSIENT = {-1, 45009, 45011}
# WeChat refused the content (our mapping or data), not the member: their subscription is still unused.
RETURN_CREDIT = {47003, 40037, 41030}

# Free-text keyword types and their length limits (characters); longer text makes WeChat refuse
# the whole message with 47003, so it is cut here instead.
_LIMITS = {"thing": 20, "name": 10, "phrase": 5}
_KEYWORD = re.compile(r"^([a-z_]+?)\d+$")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:\|(date|datetime))?\}")


class RenderError(ValueError):
    """The template's mapping names a value the draft does not carry."""


def enabled() -> bool:
    """The channel runs only for an app with credentials (a demo without WeChat keeps the inbox only)."""
    return bool(settings.WECHAT_APP_ID and settings.WECHAT_APP_SECRET)


def check_fields(fields) -> list[str]:
    """Problems with a field mapping (for the admin form), in the operator's language; none: it is usable."""
    if not isinstance(fields, dict) or not fields:
        return [_("Map at least one keyword of the template.")]
    problems = []
    for keyword, text in fields.items():
        if not isinstance(keyword, str) or not _KEYWORD.match(keyword):
            problems.append(
                _("%(keyword)s is not a template keyword such as thing1 or number2.") % {"keyword": keyword}
            )
        if not isinstance(text, str) or not text.strip():
            problems.append(_("%(keyword)s needs a text.") % {"keyword": keyword})
    if problems:
        return problems
    # A trial run with a sample for every placeholder catches what would fail on every draft.
    sample = {
        m.group(1): "2026-01-01T09:00:00+08:00"
        for text in fields.values()
        for m in _PLACEHOLDER.finditer(text)
    }
    try:
        render(fields, title="t", body="b", data=sample)
    except RenderError as exc:
        problems.append(_("The text cannot be filled in: %(problem)s.") % {"problem": exc})
    return problems


def render(fields: dict, *, title: str, body: str, data: dict) -> dict:
    """The ``data`` of a subscribe/send request: ``{"thing1": {"value": "…"}, …}``."""
    values = {**data, "title": title, "body": body}

    def substitute(match: re.Match) -> str:
        name, fmt = match.group(1), match.group(2)
        if name not in values or values[name] is None:
            raise RenderError(name)
        value = values[name]
        return _format_time(value, fmt) if fmt else str(value)

    out = {}
    for keyword, text in fields.items():
        value = _PLACEHOLDER.sub(substitute, text).strip()
        kind = _KEYWORD.match(keyword).group(1)
        limit = _LIMITS.get(kind)
        if limit and len(value) > limit:
            value = value[: limit - 1] + "…" if kind == "thing" else value[:limit]
        out[keyword] = {"value": value}
    return out


def _format_time(value, fmt: str) -> str:
    """WeChat's date and time keywords read 2026年11月18日 (and 15:01), in the merchant's time zone."""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise RenderError(str(value)) from None
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    text = f"{moment.year}年{moment.month}月{moment.day}日"
    return f"{text} {moment:%H:%M}" if fmt == "datetime" else text


@dataclass(frozen=True)
class Outcome:
    status: str  # "sent" | "retry" | "failed"
    errcode: int | None = None
    error: str = ""
    msgid: str = ""
    return_credit: bool = False


class SubscribeSender:
    """Sends subscription messages over one HTTP connection pool (use as a context manager)."""

    def __init__(self, client: WechatClient | None = None):
        self.client = client or WechatClient.from_settings()
        self.http = httpx.Client(timeout=self.client.timeout)

    def __enter__(self) -> SubscribeSender:
        return self

    def __exit__(self, *exc) -> None:
        self.http.close()

    def send(self, *, openid: str, template_id: str, page: str, data: dict) -> Outcome:
        body = {
            "touser": openid,
            "template_id": template_id,
            "data": data,
            "miniprogram_state": settings.WECHAT_MINIPROGRAM_STATE,
            "lang": "zh_CN",
        }
        if page:
            body["page"] = page
        try:
            token = self.client.access_token()
            answer = self._post(token, body)
            if isinstance(answer, dict) and answer.get("errcode") in TOKEN_INVALID:
                answer = self._post(self._fresh_token(token), body)
        except WechatUnavailable as exc:  # the token endpoint is unwell
            return Outcome("retry", error=f"access token: {exc.details}"[:200])
        if isinstance(answer, Outcome):
            return answer
        errcode = answer.get("errcode") or 0
        errmsg = str(answer.get("errmsg") or "")[:200]
        if errcode == 0:
            return Outcome("sent", errcode=0, msgid=str(answer.get("msgid") or "")[:64])
        if errcode in TRANSIENT or errcode in TOKEN_INVALID:
            return Outcome("retry", errcode=errcode, error=errmsg)
        return Outcome("failed", errcode=errcode, error=errmsg, return_credit=errcode in RETURN_CREDIT)

    def _fresh_token(self, rejected: str) -> str:
        # Another worker may have replaced the token already: use the cached one if it is newer,
        # so a burst of 40001s forces one refresh, not one per message.
        cached = self.client.access_token()
        return cached if cached != rejected else self.client.access_token(refresh=True)

    def _post(self, token: str, body: dict) -> dict | Outcome:
        try:
            response = self.http.post(
                f"{self.client.base_url}{SEND_PATH}", params={"access_token": token}, json=body
            )
        except httpx.HTTPError as exc:
            return Outcome("retry", error=type(exc).__name__)
        if response.status_code >= 400:
            return Outcome("retry", error=f"HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            return Outcome("retry", error="invalid response")
        if not isinstance(answer, dict):
            return Outcome("retry", error="invalid response")
        return answer
