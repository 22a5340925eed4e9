"""Where an operator refunds a unit another app sold and the mall ships (``redemptions_record_sold_elsewhere``).

The mall holds neither the money nor the stock of such a unit, so it cannot cancel one: the selling app
refunds it (its payment back, the shipment cancelled).  The mall sits below the sellers and imports none
of them; each registers, from its ``AppConfig.ready``, the page of its refund for the source keys it
writes (``group:…``, ``bargain:…``), and the mall's admin sends the operator there.
"""

from __future__ import annotations

from collections.abc import Callable

_REFUND_PAGES: dict[str, tuple[object, Callable[[str], str]]] = {}


def register(*, prefix: str, seller, refund_url: Callable[[str], str]) -> None:
    """``refund_url(source_key)`` is the admin page that refunds the unit; ``seller`` names it for operators."""
    _REFUND_PAGES[prefix] = (seller, refund_url)


def refund_page(source_key: str | None) -> tuple[object, str] | None:
    """(the seller's name, its refund page's URL) for a unit sold elsewhere, or None."""
    if not source_key:
        return None
    for prefix, (seller, refund_url) in _REFUND_PAGES.items():
        if source_key.startswith(prefix):
            return seller, refund_url(source_key)
    return None
