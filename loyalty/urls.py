from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from loyalty.health import HealthView
from members import api as members_api

api_v1 = [
    path("auth/wechat-login", members_api.WechatLoginView.as_view(), name="auth-wechat-login"),
    path("auth/dev-login", members_api.DevLoginView.as_view(), name="auth-dev-login"),
    path("auth/logout", members_api.LogoutView.as_view(), name="auth-logout"),
    path("me", members_api.MeView.as_view(), name="me"),
    path("me/profile", members_api.ProfileView.as_view(), name="me-profile"),
    path("me/phone", members_api.PhoneBindView.as_view(), name="me-phone"),
    path("server/members/lookup", members_api.ServerMemberLookupView.as_view(), name="server-member-lookup"),
    path("health", HealthView.as_view(), name="health"),
]

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/", include(api_v1)),
]

handler404 = "loyalty.api.fallback_views.page_not_found"
handler500 = "loyalty.api.fallback_views.server_error"
