from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions, permissions

from members.models import Member
from members.selectors import member_by_token


class MemberTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>`` from ``/api/v1/auth/wechat-login``."""

    keyword = "Bearer"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].decode(errors="replace") != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header."))
        found = member_by_token(parts[1].decode(errors="replace"))
        if found is None:
            raise exceptions.AuthenticationFailed(_("The token is invalid or has expired. Log in again."))
        return found

    def authenticate_header(self, request):
        return self.keyword


class IsMember(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, Member)
