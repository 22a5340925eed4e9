"""Refuse API paths that no database row can match, before a view sends them to PostgreSQL."""

from loyalty.api.fallback_views import page_not_found
from loyalty.api.serializers import MAX_ID


class UnstorablePathMiddleware:
    """An API path holding a NUL (``%00``), or an ``<int:…>`` beyond bigint, is 404 not_found.

    ``<str:…>`` path parameters (an order number, an out_trade_no) match any
    character but ``/``; PostgreSQL text cannot hold a NUL, so the lookup failed
    with a 500 instead of finding nothing.  Found by fuzzing
    (tests/fuzz/test_found.py).  ``<int:…>`` matches any number of digits, and
    one past 2**63 - 1 fails as a statement parameter ("bigint out of range").
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path_info and request.path.startswith("/api/"):
            return page_not_found(request, None)
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        ids = [value for value in (*view_args, *view_kwargs.values()) if isinstance(value, int)]
        if any(value > MAX_ID for value in ids) and request.path.startswith("/api/"):
            return page_not_found(request, None)
        return None
