"""The clerk page (店员核销): sign in, scan or type a code, see what it is, redeem it. Mobile first.

Plain Django views and templates (no API token on a phone left at a counter): Django's session sign-in,
only for users with an active Staff record; every action is a POST with its CSRF token, and the
redemption a POST-redirect-GET, so a reload never redeems twice (a one-time token does the rest).
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from counter import selectors, services
from counter.exceptions import NotStaff
from loyalty.errors import ApplicationError
from stores.selectors import staff_of_user

LOGIN_URL = "counter:login"


class ClerkLoginForm(AuthenticationForm):
    """Django's sign-in, for the merchant's active staff only."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if staff_of_user(user) is None:
            raise forms.ValidationError(
                _("Only the merchant's active staff can use the counter page."), code="not_staff"
            )


class LoginView(auth_views.LoginView):
    template_name = "counter/login.html"
    authentication_form = ClerkLoginForm
    redirect_authenticated_user = True

    def get_success_url(self):
        return self.get_redirect_url() or "/counter/"


def _clerk_or_redirect(request):
    if not request.user.is_authenticated:
        return None
    try:
        return services.clerk_of(request.user)
    except NotStaff:
        return None


def _store_id(request, clerk) -> str | None:
    wanted = (
        request.POST.get("store_id") or request.GET.get("store") or request.session.get("counter_store_id")
    )
    if wanted and any(str(s.pk) == str(wanted) for s in clerk.stores):
        return str(wanted)
    return str(clerk.stores[0].pk) if clerk.stores else None


@require_http_methods(["GET", "POST"])
def scan(request):
    """The page: the store, a box for the code (or the camera), and what the code is once looked up."""
    clerk = _clerk_or_redirect(request)
    if clerk is None:
        return redirect(f"/counter/login/?next={request.path}")
    store_id = _store_id(request, clerk)
    if store_id:
        request.session["counter_store_id"] = store_id
    context = {"clerk": clerk, "store_id": store_id, "token": uuid.uuid4().hex}
    text = (request.POST.get("code") or request.GET.get("code") or "").strip()
    if text:
        context["code"] = text
        try:
            context["found"] = services.identify(text=text)
        except ApplicationError as error:
            context["error"] = error
    if store_id:
        context["activity"] = selectors.store_activity(store_ids=[int(store_id)])
    return render(request, "counter/scan.html", context)


@require_http_methods(["POST"])
def redeem(request):
    clerk = _clerk_or_redirect(request)
    if clerk is None:
        return redirect("/counter/login/")
    text = request.POST.get("code", "")
    try:
        done = services.counter_redeem(
            clerk=clerk,
            store_id=request.POST.get("store_id"),
            text=text,
            token=(request.POST.get("token") or uuid.uuid4().hex)[:32],
        )
    except ApplicationError as error:
        messages.error(request, f"{error.message}（{error.code}）")
        return redirect(f"/counter/?code={text}")
    if done["kind"] == "coupon":
        what = _("Coupon %(name)s redeemed") % {"name": done["coupon"].template.name}
    else:
        what = _("%(item)s handed over") % {"item": done["redemption"].item.name}
    if not done["done_now"]:
        what = _("Already done: %(what)s") % {"what": what}
    messages.success(request, f"{what} · {done['store'].name}")
    return redirect("/counter/")


@require_http_methods(["POST"])
def logout(request):
    return auth_views.LogoutView.as_view(next_page="/counter/login/")(request)
