"""Claim links and QR codes for membership cards, tagged with a channel and a staff member.

The QR encodes the mini-program page that claims the card, with the card
type and the tags in its query; the page calls ``POST
/api/v1/membership/cards/claim`` with them, and the card records the
channel and staff member so claims are attributed.  PNG without Pillow
(pure-Python pypng), as for coupons.
"""

from __future__ import annotations

import io
from urllib.parse import urlencode

import qrcode
from qrcode.image.pure import PyPNGImage

CLAIM_PAGE = "pages/membership/claim"


def claim_link(*, card_type_id: int, channel: str = "", staff: str = "") -> str:
    query = {"card_type": card_type_id, **{k: v for k, v in (("channel", channel), ("staff", staff)) if v}}
    return f"{CLAIM_PAGE}?{urlencode(query)}"


def claim_qr_png(*, card_type_id: int, channel: str = "", staff: str = "") -> bytes:
    buffer = io.BytesIO()
    link = claim_link(card_type_id=card_type_id, channel=channel, staff=staff)
    qrcode.make(link, image_factory=PyPNGImage, box_size=10, border=2).save(buffer)
    return buffer.getvalue()
