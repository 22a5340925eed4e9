from rest_framework.pagination import CursorPagination


class HistoryCursorPagination(CursorPagination):
    """Newest first; stable under concurrent inserts, unlike page numbers."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 100
