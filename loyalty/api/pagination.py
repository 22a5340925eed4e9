from rest_framework import serializers
from rest_framework.pagination import CursorPagination

from loyalty.api.serializers import StrictQuerySerializer


class HistoryCursorPagination(CursorPagination):
    """Newest first; stable under concurrent inserts, unlike page numbers."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 100
    # For the API docs, whose readers are the mini-program's developers.
    cursor_query_description = "翻页游标，取自上一次响应 next / previous 地址中的 cursor。"
    page_size_query_description = "每页条数，1–100，默认 20。"

    def get_page_size(self, request):
        # DRF falls back to the default on a page_size it cannot read (?page_size=abc, 0, -1, null);
        # a client that sends one has a bug, and gets 400 whichever list it asked for.
        params = request.query_params
        query = PageQuery(data={name: params[name] for name in ("cursor", "page_size") if name in params})
        query.is_valid(raise_exception=True)
        return query.validated_data.get("page_size", self.page_size)

    def get_paginated_response_schema(self, schema):
        """DRF's, described in Chinese for the API docs, with an example of a first page that has a next one."""
        response = super().get_paginated_response_schema(schema)
        links = response["properties"]
        links["next"].update(
            description="下一页的完整地址（同一列表，带 cursor 参数）；没有更多时为 null。",
            example="https://api.example.com/api/v1/orders?cursor=cD0xMDI%3D&page_size=20",
        )
        links["previous"].update(description="上一页的完整地址；第一页为 null。", example=None)
        return response

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters


class PageQuery(StrictQuerySerializer):
    """The query parameters every history accepts; subclasses add their filters.

    Validating them (strictly) is what turns ``?page_size=0`` or a misspelt
    filter into a 400 instead of a silently unfiltered list.
    """

    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100)
