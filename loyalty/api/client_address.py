"""The address a request comes from: what every throttle counts by, and the only place it is decided.

``X-Forwarded-For`` is anyone's to write, so it is believed only as far as
proxies we trust vouch for it: when the connection (``REMOTE_ADDR``) comes
from a network in ``TRUSTED_PROXIES``, the header is read from the right,
past every trusted proxy, and the first address that is not one of them is
the client.  Otherwise the client is ``REMOTE_ADDR`` and the header is
ignored.  (DRF's own ``get_ident`` took the header from anyone, so a new
value per request escaped the login throttle.)
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _parse(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    return address.ipv4_mapped or address if address.version == 6 else address


def client_address(request) -> str:
    """The client's IP address as text; ``REMOTE_ADDR`` unless a trusted proxy forwarded the request."""
    remote = request.META.get("REMOTE_ADDR", "")
    address = _parse(remote)
    if address is None:
        return remote
    trusted = _networks(tuple(settings.TRUSTED_PROXIES))

    def is_trusted(candidate: Address) -> bool:
        return any(candidate in network for network in trusted)

    if is_trusted(address):
        for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
            forwarded = _parse(hop)
            if forwarded is None:  # not an address a proxy wrote: the last one vouched for stands
                break
            address = forwarded
            if not is_trusted(forwarded):
                break
    return str(address)
