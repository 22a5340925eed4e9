"""Stores and staff in the back office: the stores, their people, their roles and their accounts."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from loyalty.admin_tools import ModelAdmin, TabularInline, action_links, action_page
from loyalty.errors import ApplicationError
from stores import services
from stores.models import Staff, StaffAssignment, Store
from stores.scoping import StoreScopedAdminMixin


@admin.register(Store)
class StoreAdmin(StoreScopedAdminMixin, ModelAdmin):
    list_display = ["code", "name", "status", "phone", "opening_hours", "address", "staff_count"]
    list_display_links = ["code", "name"]
    list_filter = ["status"]
    search_fields = ["code", "name", "address", "phone"]
    fields = ["code", "name", "status", "address", "phone", "opening_hours", "created_at"]
    readonly_fields = ["created_at"]
    store_list_filter = False

    def store_scope_q(self, store_ids) -> Q:
        return Q(pk__in=store_ids)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_staff=Count("assignments"))

    @admin.display(description=_("staff"), ordering="n_staff")
    def staff_count(self, store):
        return store.n_staff

    def has_delete_permission(self, request, obj=None):
        return False  # orders and members point at it: close it instead (status), it stays in the reports


class StaffAssignmentInline(TabularInline):
    model = StaffAssignment
    extra = 1
    fields = ["store", "role"]
    verbose_name = _("store role")
    verbose_name_plural = _("stores and roles")


class AccountForm(forms.Form):
    username = forms.CharField(
        label=_("username"),
        max_length=150,
        help_text=_(
            "A new account is created; an existing one (not a superuser, not another staff member's) is linked."
        ),
    )
    password = forms.CharField(
        label=_("password"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("For a new account. Left empty, it cannot sign in until a password is set."),
    )


@admin.register(Staff)
class StaffAdmin(StoreScopedAdminMixin, ModelAdmin):
    list_display = ["code", "name", "phone", "stores_and_roles", "account", "active", "actions_column"]
    list_display_links = ["code", "name"]
    list_filter = ["active", "assignments__role"]
    search_fields = ["code", "name", "phone", "user__username"]
    fields = ["code", "name", "phone", "active", "user", "created_at"]
    readonly_fields = ["user", "created_at"]
    inlines = [StaffAssignmentInline]
    store_field = "assignments__store"

    def store_scope_q(self, store_ids) -> Q:
        return Q(pk__in=StaffAssignment.objects.filter(store_id__in=store_ids).values("staff_id"))

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user").prefetch_related("assignments__store")

    @admin.display(description=_("stores and roles"))
    def stores_and_roles(self, staff):
        return "；".join(f"{a.store.name} · {a.get_role_display()}" for a in staff.assignments.all()) or "—"

    @admin.display(description=_("back-office account"))
    def account(self, staff):
        return staff.user.username if staff.user_id else "—"

    def object_actions(self, staff):
        if staff.user_id is None:
            return [(_("create or link an account"), reverse("admin:stores_staff_account", args=[staff.pk]))]
        return [(_("account"), reverse("admin:auth_user_change", args=[staff.user_id]))]

    @admin.display(description=_("actions"))
    def actions_column(self, staff):
        return action_links(self.object_actions(staff))

    def save_related(self, request, form, formsets, change):
        """Roles changed on the page: the account's groups follow them (in the request's transaction)."""
        super().save_related(request, form, formsets, change)
        services.staff_groups_sync(staff_id=form.instance.pk)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/account/", view(self.account_view), name="stores_staff_account"),
        ] + super().get_urls()

    def account_view(self, request, pk):
        """An account for a staff member: the back office and the clerk page, in their roles' groups."""
        staff = self.get_object(request, str(pk))
        if staff is None:
            raise Http404
        form = AccountForm(request.POST or None)
        if request.method == "POST" and request.user.has_perm("stores.change_staff") and form.is_valid():
            try:
                services.staff_account_create(
                    staff_id=staff.pk,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password"],
                )
            except ApplicationError as exc:
                form.add_error("username", exc.message)
            else:
                self.log_change(request, staff, f"account {form.cleaned_data['username']}")
                messages.success(
                    request, _("The account is ready; it signs in with the staff member's roles.")
                )
                return redirect("admin:stores_staff_change", staff.pk)
        return action_page(
            self,
            request,
            title=_("Back-office account for %(staff)s") % {"staff": staff},
            form=form,
            obj=staff,
            summary=_("Roles: %(roles)s") % {"roles": self.stores_and_roles(staff)},
            permission="stores.change_staff",
        )
