from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from loyalty.admin_tools import ModelAdmin, ReadOnlyAdminMixin, local_time
from members.models import ClosedMember, Member
from members.selectors import member_overview


@admin.register(Member)
class MemberAdmin(ModelAdmin):
    list_display = [
        "id",
        "nickname",
        "phone",
        "gender",
        "registration_channel",
        "referrer",
        "registered_at",
        "overview_link",
    ]
    list_display_links = ["id", "nickname"]
    search_fields = ["=id", "openid", "unionid", "phone", "nickname", "invite_code"]
    list_filter = [
        "gender",
        "registration_channel",
        ("registered_at", admin.DateFieldListFilter),
        ("closed_at", admin.EmptyFieldListFilter),
    ]
    date_hierarchy = "registered_at"
    list_select_related = ["referrer"]
    raw_id_fields = ["referrer"]
    readonly_fields = [
        "openid",
        "unionid",
        "invite_code",
        "registration_channel",
        "registered_at",
        "closed_at",
    ]
    fieldsets = [
        (None, {"fields": ["nickname", "avatar_url", "gender", "birthday", "phone"]}),
        (_("WeChat"), {"fields": ["openid", "unionid"]}),
        (_("Acquisition"), {"fields": ["registration_channel", "referrer", "invite_code", "registered_at"]}),
        (_("Account closure"), {"fields": ["closed_at"]}),
    ]
    formfield_overrides = {models.URLField: {"form_class": forms.URLField, "assume_scheme": "https"}}
    show_full_result_count = False  # COUNT(*) over a large member table on every page is slow

    def has_add_permission(self, request):
        return False  # members register themselves through the mini-program

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.closed_at is not None:
            return False  # a closed account is anonymised and stays so: viewed, never edited
        return super().has_change_permission(request, obj)

    @admin.display(description=_("overview"))
    def overview_link(self, member):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:members_member_overview", args=[member.pk]), _("overview")
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/overview/", view(self.overview_view), name="members_member_overview")
        ] + super().get_urls()

    def overview_view(self, request, pk):
        """Tier, cards, points, stored value and coupons of one member, together (each app's registered part)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        member = get_object_or_404(Member, pk=pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Member overview: %(member)s") % {"member": member},
            "member": member,
            **member_overview(member=member),
        }
        return TemplateResponse(request, "admin/members/member/overview.html", context)


@admin.register(ClosedMember)
class ClosedMemberAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Accounts closed by their members (注销): what is left of them, read-only."""

    list_display = ["id", "closed", "registered", "registration_channel", "referrer"]
    list_filter = [("closed_at", admin.DateFieldListFilter), "registration_channel"]
    search_fields = ["=id"]
    date_hierarchy = "closed_at"
    ordering = ["-closed_at"]
    list_select_related = ["referrer"]
    fields = ["id", "closed_at", "registered_at", "registration_channel", "referrer", "invite_code", "openid"]
    readonly_fields = fields
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(closed_at__isnull=False)

    @admin.display(description=_("account closed at"), ordering="closed_at")
    def closed(self, obj):
        return local_time(obj.closed_at)

    @admin.display(description=_("registered at"), ordering="registered_at")
    def registered(self, obj):
        return local_time(obj.registered_at)
