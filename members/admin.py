from django import forms
from django.contrib import admin
from django.db import models
from django.utils.translation import gettext_lazy as _

from members.models import Member


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["id", "nickname", "phone", "gender", "registration_channel", "referrer", "registered_at"]
    list_display_links = ["id", "nickname"]
    search_fields = ["=id", "openid", "unionid", "phone", "nickname", "invite_code"]
    list_filter = ["gender", "registration_channel", ("registered_at", admin.DateFieldListFilter)]
    date_hierarchy = "registered_at"
    list_select_related = ["referrer"]
    raw_id_fields = ["referrer"]
    readonly_fields = ["openid", "unionid", "invite_code", "registration_channel", "registered_at"]
    fieldsets = [
        (None, {"fields": ["nickname", "avatar_url", "gender", "birthday", "phone"]}),
        (_("WeChat"), {"fields": ["openid", "unionid"]}),
        (_("Acquisition"), {"fields": ["registration_channel", "referrer", "invite_code", "registered_at"]}),
    ]
    formfield_overrides = {models.URLField: {"form_class": forms.URLField, "assume_scheme": "https"}}
    show_full_result_count = False  # COUNT(*) over a large member table on every page is slow

    def has_add_permission(self, request):
        return False  # members register themselves through the mini-program
