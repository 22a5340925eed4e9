"""The throttle every view uses: DRF's scoped rates, counted per member or per client address."""

from rest_framework.throttling import ScopedRateThrottle

from loyalty.api.client_address import client_address


class ScopedThrottle(ScopedRateThrottle):
    """``ScopedRateThrottle`` whose anonymous callers are told apart by ``client_address``.

    A signed-in member is counted by member id (DRF's rule); anyone else by
    the address ``loyalty.api.client_address`` decides, never by a header
    the caller wrote.
    """

    def get_ident(self, request):
        return client_address(request)
