"""WeChat's and WeChat Pay's error codes as an operator reads them, the original kept beside.

WeChat answers in English (``43101 user refuse to accept the msg``, ``SYSTEM_ERROR``); the admin shows a
Chinese sentence for the codes this project meets, with WeChat's own text in the tooltip (lists) or under
it (detail pages), so support can still quote it to WeChat.  An unknown code reads as WeChat wrote it.
The meanings are those of WeChat's documentation (subscribeMessage.send's and the access token's error
codes; WeChat Pay API v3's error codes and refund states).
"""

import re

from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

#: The mini program API's errcode (subscription messages and the access token they need).
WECHAT_ERRCODES = {
    -1: _("WeChat was busy; the message is sent again later"),
    40001: _("The mini program's access token was refused (check the AppSecret)"),
    40003: _("The member's openid does not belong to this mini program"),
    40014: _("The mini program's access token is invalid"),
    40037: _("The template ID is wrong (check the subscription message template)"),
    41030: _("The page the message opens does not exist in the published mini program"),
    42001: _("The mini program's access token had expired; it is fetched again"),
    43101: _("The member has not subscribed, or has used up their subscriptions"),
    43107: _("The member has not subscribed to this template"),
    45009: _("The daily limit of WeChat's API was reached; the message is sent again later"),
    45011: _("Sent too often; the message is sent again later"),
    47003: _("WeChat refused the message's content (a keyword is empty or too long)"),
}

#: WeChat Pay API v3's error codes and the refund states that end a refund unpaid.
WECHATPAY_CODES = {
    "SYSTEM_ERROR": _("WeChat Pay's system error; the refund is submitted again later"),
    "SYSTEMERROR": _("WeChat Pay's system error; the refund is submitted again later"),
    "FREQUENCY_LIMITED": _("Submitted too often; the refund is submitted again later"),
    "NOT_ENOUGH": _("The merchant's WeChat Pay balance is not enough for the refund"),
    "USER_ACCOUNT_ABNORMAL": _("The member's WeChat account is abnormal; refund by hand"),
    "ABNORMAL": _("The refund could not reach the member's account (e.g. a closed card); refund by hand"),
    "CLOSED": _("WeChat Pay closed the refund"),
    "PARAM_ERROR": _("WeChat Pay refused the request's parameters"),
    "INVALID_REQUEST": _("WeChat Pay refused the request in this order's state"),
    "SIGN_ERROR": _("WeChat Pay refused the signature (check the merchant's API key)"),
    "NO_AUTH": _("The merchant has no permission for this WeChat Pay API"),
    "MCH_NOT_EXISTS": _("WeChat Pay does not know the merchant number"),
    "ORDER_NOT_EXIST": _("WeChat Pay has no such order"),
    "RESOURCE_NOT_EXISTS": _("WeChat Pay has no such order or refund"),
    "ORDER_CLOSED": _("The order is closed at WeChat Pay"),
}

_PAY_CODE = re.compile(r"\b[A-Z][A-Z_]{3,}\b")


def wechat_error_label(errcode) -> str | None:
    """The Chinese meaning of a mini program API errcode, or None when it is not one we know."""
    label = WECHAT_ERRCODES.get(errcode)
    return None if label is None else str(label)


def wechatpay_error_label(stored: str) -> str | None:
    """The Chinese meaning of the WeChat Pay code in a stored error (``SYSTEM_ERROR``, or
    ``{'provider_code': 'NOT_ENOUGH'}`` as the refund job wrote it), or None."""
    for code in _PAY_CODE.findall(stored or ""):
        if code in WECHATPAY_CODES:
            return str(WECHATPAY_CODES[code])
    return None


def error_in_words(label: str | None, original: str, *, detail: bool = False):
    """The label, WeChat's text in its tooltip (or, on a detail page, under it); the original alone when
    there is no label; "—" when there is nothing."""
    if not original:
        return "—"
    if label is None:
        return original
    if detail:
        return format_html(
            '{}<br><span class="text-xs text-base-500">{}</span>', label, _("WeChat said: %s") % original
        )
    return format_html('<span title="{}">{}</span>', original, label)
