"""JSON 404/500 for API paths; the admin keeps Django's HTML pages."""

from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults


def page_not_found(request, exception):
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "message": _("Not found."), "details": {}}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        body = {"code": "server_error", "message": _("Something went wrong on our side."), "details": {}}
        return JsonResponse(body, status=500)
    return defaults.server_error(request)
