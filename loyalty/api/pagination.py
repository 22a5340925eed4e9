from rest_framework import serializers
from rest_framework.pagination import CursorPagination

from loyalty.api.serializers import StrictSerializer


class HistoryCursorPagination(CursorPagination):
    """Newest first; stable under concurrent inserts, unlike page numbers."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 100


class PageQuery(StrictSerializer):
    """The query parameters every history accepts; subclasses add their filters.

    Validating them (strictly) is what turns ``?page_size=0`` or a misspelt
    filter into a 400 instead of a silently unfiltered list.
    """

    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100)
