from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from loyalty.admin_tools import ModelAdmin, ReadOnlyAdminMixin, action_links, labelled_filter, local_time
from members.models import Channel, ClosedMember, Member, MemberCode
from members.selectors import channel_label, channel_name_of, channel_names, member_overview
from stores.scoping import StoreScopedAdminMixin


def channel_filter(field: str, title):
    """A list filter on a channel code (``field``), offering the codes in use by their names."""
    return labelled_filter(field, title, channel_names)


def channel_column(field: str, description):
    """A ModelAdmin method for lists and detail pages: the channel's name (annotated as ``<field>_name``
    by the list's queryset) or its code."""

    def column(model_admin, obj):
        code = getattr(obj, field)
        if hasattr(obj, f"{field}_name"):
            names = {code: getattr(obj, f"{field}_name")}
        else:  # a queryset that did not annotate it
            names = channel_names([code])
        return channel_label(code, names) or "—"

    column.short_description = description
    column.admin_order_field = field
    return column


@admin.register(Channel)
class ChannelAdmin(ModelAdmin):
    """The registry of channels: the operator names each code members and card claims arrive with."""

    list_display = ["name", "code", "kind", "members", "is_active", "note"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name"]

    def get_queryset(self, request):
        registered = (
            Member.objects.filter(registration_channel=OuterRef("code"))
            .order_by()
            .values("registration_channel")
            .annotate(n=Count("*"))
            .values("n")
        )
        return super().get_queryset(request).annotate(n_members=Coalesce(Subquery(registered), 0))

    @admin.display(description=_("members registered"), ordering="n_members")
    def members(self, channel):
        return channel.n_members


@dataclass(frozen=True)
class MemberListPart:
    """What an app above members adds to the member list: ``annotations()`` gives name -> expression for
    the list's one query, ``columns`` read them (list_display callables), ``filters`` are list filters;
    ``actions(member)`` adds buttons to the member's page."""

    annotations: Callable[[], dict]
    columns: tuple = ()
    filters: tuple = ()
    actions: Callable[[Member], list] | None = None  # (label, url) buttons of the member's page


# Members import none of the apps above them: analytics registers their columns at startup.
_LIST_PARTS: dict[str, MemberListPart] = {}


def member_list_part_register(*, name: str, part: MemberListPart) -> None:
    _LIST_PARTS[name] = part


@admin.register(Member)
class MemberAdmin(StoreScopedAdminMixin, ModelAdmin):
    list_display = [
        "id",
        "display_name",
        "phone",
        "gender",
        "channel",
        "referrer",
        "home_store",
        "registered_at",
        "actions_column",
    ]
    list_display_links = ["id", "display_name"]
    search_fields = ["=id", "openid", "unionid", "phone", "nickname", "invite_code"]
    list_filter = [
        "gender",
        channel_filter("registration_channel", _("registration channel")),
        ("registered_at", admin.DateFieldListFilter),
        ("closed_at", admin.EmptyFieldListFilter),
    ]
    date_hierarchy = "registered_at"
    store_field = "home_store"
    list_select_related = ["referrer", "home_store"]
    raw_id_fields = ["referrer"]
    readonly_fields = [
        "openid",
        "unionid",
        "invite_code",
        "channel",
        "registration_store",
        "registration_staff",
        "registered_at",
        "closed_at",
    ]
    fieldsets = [
        (None, {"fields": ["nickname", "avatar_url", "gender", "birthday", "phone"]}),
        (_("WeChat"), {"fields": ["openid", "unionid"]}),
        (
            _("Acquisition"),
            {
                "fields": [
                    "channel",
                    "referrer",
                    "invite_code",
                    "registered_at",
                    "registration_store",
                    "registration_staff",
                ]
            },
        ),
        (_("Store"), {"fields": ["home_store"]}),
        (_("Account closure"), {"fields": ["closed_at"]}),
    ]
    formfield_overrides = {models.URLField: {"form_class": forms.URLField, "assume_scheme": "https"}}
    show_full_result_count = False  # COUNT(*) over a large member table on every page is slow
    change_list_template = "admin/members/member/change_list.html"  # with the export button

    channel = channel_column("registration_channel", _("registration channel"))

    def get_queryset(self, request):
        queryset = (
            super()
            .get_queryset(request)
            .annotate(registration_channel_name=channel_name_of("registration_channel"))
        )
        for part in _LIST_PARTS.values():
            queryset = queryset.annotate(**part.annotations())
        return queryset

    def get_list_display(self, request):
        names = list(super().get_list_display(request))
        at = names.index("channel") + 1 if "channel" in names else len(names)
        added = [column for part in _LIST_PARTS.values() for column in part.columns]
        return names[:at] + added + names[at:]

    def get_list_filter(self, request):
        added = [f for part in _LIST_PARTS.values() for f in part.filters]
        return list(super().get_list_filter(request)) + added

    def get_fieldsets(self, request, obj=None):
        if obj is not None and obj.closed_at is not None:  # its openid is a placeholder, its WeChat ids gone
            return [
                fs for fs in super().get_fieldsets(request, obj) if fs[1]["fields"] != ["openid", "unionid"]
            ]
        return super().get_fieldsets(request, obj)

    @admin.display(description=_("nickname"), ordering="nickname")
    def display_name(self, member):
        return str(member)

    def has_add_permission(self, request):
        return False  # members register themselves through the mini-program

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.closed_at is not None:
            return False  # a closed account is anonymised and stays so: viewed, never edited
        return super().has_change_permission(request, obj)

    def object_actions(self, member):
        actions = [(_("overview"), reverse("admin:members_member_overview", args=[member.pk]))]
        if member.closed_at is None:
            for part in _LIST_PARTS.values():
                actions += part.actions(member) if part.actions else []
        return actions

    @admin.display(description=_("actions"))
    def actions_column(self, member):
        return action_links(self.object_actions(member))

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
class ClosedMemberAdmin(StoreScopedAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    """Accounts closed by their members (注销): what is left of them, read-only."""

    list_display = ["id", "__str__", "closed", "registered", "channel", "referrer"]
    list_filter = [
        ("closed_at", admin.DateFieldListFilter),
        channel_filter("registration_channel", _("registration channel")),
    ]
    search_fields = ["=id"]
    store_field = "home_store"
    date_hierarchy = "closed_at"
    ordering = ["-closed_at"]
    list_select_related = ["referrer"]
    # Not the openid nor the invite code: closure replaced both with random placeholders that name nobody.
    fields = ["id", "closed_at", "registered_at", "channel", "referrer"]
    readonly_fields = fields
    show_full_result_count = False
    channel = channel_column("registration_channel", _("registration channel"))

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(closed_at__isnull=False)
            .annotate(registration_channel_name=channel_name_of("registration_channel"))
        )

    @admin.display(description=_("account closed at"), ordering="closed_at")
    def closed(self, obj):
        return local_time(obj.closed_at)

    @admin.display(description=_("registered at"), ordering="registered_at")
    def registered(self, obj):
        return local_time(obj.registered_at)


@admin.register(MemberCode)
class MemberCodeAdmin(StoreScopedAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    """The 会员码 issued to members (read only): when, until when, replaced or used for which order.

    The code itself is shown masked (``1234…56``): a live code pays at a till with the member's points
    and stored value, so the back office never shows one whole.
    """

    list_display = ["masked_code", "member", "issued", "expires", "replaced", "order_no", "used"]
    list_filter = [("issued_at", admin.DateFieldListFilter)]
    search_fields = ["=member__id", "member__phone", "=order_no"]
    list_select_related = ["member"]
    store_field = "member__home_store"
    store_list_filter = False
    date_hierarchy = "issued_at"
    ordering = ["-issued_at"]
    show_full_result_count = False
    fields = ["masked_code", "member", "issued", "expires", "replaced", "order_no", "used"]
    readonly_fields = fields

    @admin.display(description=_("member code"))
    def masked_code(self, code):
        return str(code)

    @admin.display(description=_("issued at"), ordering="issued_at")
    def issued(self, code):
        return local_time(code.issued_at)

    @admin.display(description=_("expires at"), ordering="expires_at")
    def expires(self, code):
        return local_time(code.expires_at)

    @admin.display(description=_("replaced at"), ordering="replaced_at")
    def replaced(self, code):
        return local_time(code.replaced_at) or None

    @admin.display(description=_("used at"), ordering="bound_at")
    def used(self, code):
        return local_time(code.bound_at) or None
