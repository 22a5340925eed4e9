"""Which stores a signed-in user may see, and act on with which permission: the one place that decides it.

``store_ids_for(user)`` is None for the merchant's own operators (no staff
record) and superusers: they are not scoped.  A user tied to a staff member is
scoped to the stores of that staff member's assignments (an inactive staff
member, or one with no store, to none: they see nothing store-bearing).

A role holds only in the store it was given for.  The account is in the group
of every role it holds somewhere (``services.staff_groups_sync``), so Django's
``has_perm`` answers for the account; ``store_ids_for(user, perm=...)`` says
in which of their stores a permission holds: those whose role's group grants
it (and all of them for a permission the account holds otherwise, directly or
through a group that is no store role).  Someone who is 店长 in A and 店员 in B
refunds a recharge of A, not of B.  ``acting_in(user, store_ids)`` is the user
with only the permissions held in those stores.

``StoreScopedAdminMixin`` applies it to an admin page of store-bearing rows:
the list, the CSV export and the bulk actions (``get_queryset``: the rows of
the stores where the user may view the page), every URL of the page that names
one object (its change, history and delete pages, and the page's own action
views such as a refund), which answers 404 for a row of another store before
the view runs and otherwise runs as the user acting in that row's stores, the
object permissions (``has_view/change/delete_permission(request, obj)``) and
the bulk actions, refused with nothing done when a chosen row lies in a store
where the user may not run them.  tests/stores/test_scoping.py and
tests/stores/test_store_roles.py walk such pages.
"""

from __future__ import annotations

import copy
import functools
from collections import defaultdict

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404
from django.urls import URLPattern
from django.utils.translation import gettext as _

from stores.models import Staff, StaffAssignment
from stores.roles import ROLE_GROUPS

_CACHE = "_store_scope"
_PERMS_CACHE = "_store_perms"


def store_ids_for(user, *, perm: str | None = None) -> frozenset[int] | None:
    """The ids of the stores ``user`` may see (with ``perm``: where that permission holds for them), or
    None when they are not scoped (cached on the user).

    For an unscoped user ``perm`` changes nothing: whether they hold it is ``user.has_perm``'s answer.
    """
    if perm is not None:
        by_store = _perms_by_store(user)
        return None if by_store is None else frozenset(s for s, perms in by_store.items() if perm in perms)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if hasattr(user, _CACHE):
        return getattr(user, _CACHE)
    ids: frozenset[int] | None = None
    if not user.is_superuser:
        staff = Staff.objects.filter(user_id=user.pk).values("pk", "active").first()
        if staff is not None:
            ids = (
                frozenset(
                    StaffAssignment.objects.filter(staff_id=staff["pk"]).values_list("store_id", flat=True)
                )
                if staff["active"]
                else frozenset()
            )
    setattr(user, _CACHE, ids)
    return ids


def _perms_by_store(user) -> dict[int, frozenset[str]] | None:
    """``{store id: the permissions the user holds there}`` for a scoped user (cached on the user).

    In a store: the permissions of the group of their role there (when the account is in it), and those
    the account holds other than through a store role.  An inactive account holds none.
    """
    ids = store_ids_for(user)
    if ids is None:
        return None
    if hasattr(user, _PERMS_CACHE):
        return getattr(user, _PERMS_CACHE)
    by_store: dict[int, frozenset[str]] = {store_id: frozenset() for store_id in ids}
    if ids and user.is_active:
        role_of_group = {name: role for role, name in ROLE_GROUPS.items()}
        of_role: dict[str, set[str]] = defaultdict(set)
        everywhere = set(user.get_user_permissions())
        rows = Group.objects.filter(user=user).values_list(
            "name", "permissions__content_type__app_label", "permissions__codename"
        )
        for group, app_label, codename in rows:
            if codename is None:  # a group without permissions
                continue
            role = role_of_group.get(group)
            (of_role[role] if role else everywhere).add(f"{app_label}.{codename}")
        roles = StaffAssignment.objects.filter(staff__user_id=user.pk, store_id__in=ids).values_list(
            "store_id", "role"
        )
        by_store |= {store_id: frozenset(everywhere | of_role[role]) for store_id, role in roles}
    setattr(user, _PERMS_CACHE, by_store)
    return by_store


def acting_in(user, store_ids):
    """``user`` with only the permissions they hold in ``store_ids`` (``user`` itself when not scoped, or
    when their permissions are the same in every store of theirs).

    A copy of the account whose Django permission cache (``ModelBackend``'s ``_perm_cache``, the only
    backend: settings set none other) holds those permissions: ``has_perm`` and everything built on it
    then answer for those stores.  tests/stores/test_store_roles.py fails if that stops holding.
    """
    if not roles_differ(user):
        return user
    by_store = _perms_by_store(user)
    narrowed = copy.copy(user)
    narrowed._perm_cache = set().union(*(by_store[s] for s in store_ids if s in by_store))
    return narrowed


def roles_differ(user) -> bool:
    """Whether ``user``'s permissions differ from one of their stores to another (a scoped user only)."""
    by_store = _perms_by_store(user)
    return by_store is not None and len(set(by_store.values())) > 1


def is_store_scoped(user) -> bool:
    return store_ids_for(user) is not None


def may_act_in_store(user, store_id: int | None, *, perm: str | None = None) -> bool:
    """Whether ``user`` may see (with ``perm``: act with it on) a row of ``store_id`` (None: an online
    row, merchant-wide)."""
    ids = store_ids_for(user, perm=perm)
    return ids is None or store_id in ids


def scope(queryset: QuerySet, user, *, field: str = "store", perm: str | None = None) -> QuerySet:
    """``queryset`` less the rows of stores ``user`` may not see (with ``perm``: where it does not hold
    for them); ``field`` leads to the store."""
    ids = store_ids_for(user, perm=perm)
    return queryset if ids is None else queryset.filter(**{f"{field}__in": ids})


class StoreScopedAdminMixin:
    """An admin page whose rows belong to a store: a store-scoped user sees and acts only on theirs, with
    the permissions of their role in the row's store.

    ``store_field`` is the path from the page's model to its store (``store``,
    ``home_store``); a model whose store sits on related rows overrides
    ``store_scope_q``.  The page gains a store filter for whoever sees more
    than one store.  Put it first among the bases, so every queryset the page
    builds passes through it.
    """

    store_field = "store"
    store_list_filter = True  # a "store" filter on the list, for whoever sees more than one store

    def store_scope_q(self, store_ids) -> Q:
        return Q(**{f"{self.store_field}__in": store_ids})

    def store_ids_with(self, request, action: str) -> frozenset[int] | None:
        """The stores where ``request.user`` holds this page's ``action`` permission (view, change, delete)."""
        codename = get_permission_codename(action, self.opts)
        return store_ids_for(request.user, perm=f"{self.opts.app_label}.{codename}")

    def viewable_store_ids(self, request) -> frozenset[int] | None:
        """The stores whose rows the page lists to ``request.user``: where they may view or change them."""
        view, change = self.store_ids_with(request, "view"), self.store_ids_with(request, "change")
        return None if view is None else view | change

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        ids = self.viewable_store_ids(request)
        return queryset if ids is None else queryset.filter(self.store_scope_q(ids))

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        ids = store_ids_for(request.user)
        if self.store_list_filter and (ids is None or len(ids) > 1) and self.store_field not in filters:
            filters.append(self.store_field)
        return filters

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """Where a form picks a store (a member's home store), a scoped user picks only among theirs."""
        ids = store_ids_for(request.user)
        if ids is not None and db_field.related_model._meta.label == "stores.Store":
            kwargs["queryset"] = db_field.related_model.objects.filter(pk__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def stores_of(self, request, pk) -> list[int] | None:
        """The stores of ``request.user``'s the object with primary key ``pk`` belongs to (None: not scoped)."""
        ids = store_ids_for(request.user)
        if ids is None:
            return None
        rows = self.model._default_manager.filter(pk=pk)
        return [s for s in sorted(ids) if rows.filter(self.store_scope_q([s])).exists()]

    def _in_stores_with(self, request, obj, ids) -> bool:
        """Whether ``obj`` belongs to one of the stores ``ids`` (None: not scoped), asked once a request."""
        if ids is None:
            return True
        asked = request.__dict__.setdefault("_store_scope_asked", {})
        key = (self.opts.label, obj.pk, ids)
        if key not in asked:
            asked[key] = self.model._default_manager.filter(self.store_scope_q(ids), pk=obj.pk).exists()
        return asked[key]

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and (
            obj is None or self._in_stores_with(request, obj, self.viewable_store_ids(request))
        )

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (
            obj is None or self._in_stores_with(request, obj, self.store_ids_with(request, "change"))
        )

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (
            obj is None or self._in_stores_with(request, obj, self.store_ids_with(request, "delete"))
        )

    def in_store_scope(self, request, key) -> bool:
        """Whether the object with primary key ``key`` (from a URL) is one ``request.user`` may reach."""
        ids = store_ids_for(request.user)
        if ids is None:
            return True
        try:
            pk = self.model._meta.pk.to_python(admin.utils.unquote(str(key)))
            return self.model._default_manager.filter(self.store_scope_q(ids), pk=pk).exists()
        except (ValueError, TypeError, ValidationError):  # a malformed id in the URL: no such object
            return False

    def get_actions(self, request):
        """Every bulk action runs only when each chosen row lies in a store where the user may run it."""
        return {
            key: (self._in_their_stores(func), name, description)
            for key, (func, name, description) in super().get_actions(request).items()
        }

    def _in_their_stores(self, func):
        @functools.wraps(func)
        def action(modeladmin, request, queryset):
            ids = store_ids_for(request.user)
            if ids is not None:
                needed = getattr(func, "allowed_permissions", ())
                allowed = [s for s in ids if self._may_run(request, needed, s)]
                if queryset.exclude(self.store_scope_q(allowed)).exists():
                    messages.error(
                        request,
                        _(
                            "Some of the chosen rows belong to a store where your role may not do this: nothing was done."
                        ),
                    )
                    return None
            return func(modeladmin, request, queryset)

        return action

    def _may_run(self, request, needed, store_id) -> bool:
        user = request.user
        request.user = acting_in(user, [store_id])
        try:
            return all(getattr(self, f"has_{p}_permission")(request) for p in needed)
        finally:
            request.user = user

    @property
    def urls(self):
        """Every URL of the page naming one object (``pk`` or ``object_id``), the page's own action views
        included, first checks the object is in scope, then runs as the user acting in its stores."""
        return [self._scoped_url(pattern) for pattern in self.get_urls()]

    def _scoped_url(self, pattern):
        if not isinstance(pattern, URLPattern) or not ({"pk", "object_id"} & set(pattern.pattern.converters)):
            return pattern
        view = pattern.callback

        def scoped(request, *args, **kwargs):
            key = kwargs.get("pk", kwargs.get("object_id"))
            if not self.in_store_scope(request, key):
                raise Http404
            if roles_differ(request.user):
                pk = self.model._meta.pk.to_python(admin.utils.unquote(str(key)))
                request.user = acting_in(request.user, self.stores_of(request, pk))
            return view(request, *args, **kwargs)

        for attr in ("csrf_exempt", "login_required", "admin_site"):
            if hasattr(view, attr):
                setattr(scoped, attr, getattr(view, attr))
        scoped.__wrapped__ = view
        return URLPattern(pattern.pattern, scoped, pattern.default_args, pattern.name)
