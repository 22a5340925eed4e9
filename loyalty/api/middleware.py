"""Refuse API paths that no database row can match, before a view sends them to PostgreSQL."""

from loyalty.api.fallback_views import page_not_found


class UnstorablePathMiddleware:
    """An API path holding a NUL (``%00``) is 404 not_found.

    ``<str:…>`` path parameters (an order number, an out_trade_no) match any
    character but ``/``; PostgreSQL text cannot hold a NUL, so the lookup failed
    with a 500 instead of finding nothing.  Found by fuzzing
    (tests/fuzz/test_found.py).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path_info and request.path.startswith("/api/"):
            return page_not_found(request, None)
        return self.get_response(request)
