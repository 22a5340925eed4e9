"""Which stores a signed-in user may see and act on: the one place that decides it.

``store_ids_for(user)`` is None for the merchant's own operators (no staff
record) and superusers: they are not scoped.  A user tied to a staff member is
scoped to the stores of that staff member's assignments (an inactive staff
member, or one with no store, to none: they see nothing store-bearing).

``StoreScopedAdminMixin`` applies it to an admin page of store-bearing rows:
the list, the CSV export and the bulk actions (``get_queryset``), and every
URL of the page that names one object (its change, history and delete pages,
and the page's own action views such as a refund) answer 404 for a row of
another store, before the view runs.  tests/stores/test_scoping.py walks every
such page.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404
from django.urls import URLPattern

from stores.models import Staff, StaffAssignment

_CACHE = "_store_scope"


def store_ids_for(user) -> frozenset[int] | None:
    """The ids of the stores ``user`` may see, or None when they are not scoped (cached on the user)."""
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


def is_store_scoped(user) -> bool:
    return store_ids_for(user) is not None


def may_act_in_store(user, store_id: int | None) -> bool:
    """Whether ``user`` may see or act on a row of ``store_id`` (None: an online row, merchant-wide)."""
    ids = store_ids_for(user)
    return ids is None or store_id in ids


def scope(queryset: QuerySet, user, *, field: str = "store") -> QuerySet:
    """``queryset`` less the rows of stores ``user`` may not see (``field`` leads to the store)."""
    ids = store_ids_for(user)
    return queryset if ids is None else queryset.filter(**{f"{field}__in": ids})


class StoreScopedAdminMixin:
    """An admin page whose rows belong to a store: a store-scoped user sees and acts only on theirs.

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

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        ids = store_ids_for(request.user)
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

    @property
    def urls(self):
        """Every URL of the page naming one object (``pk`` or ``object_id``), the page's own action views
        included, first checks the object is in scope."""
        return [self._scoped_url(pattern) for pattern in self.get_urls()]

    def _scoped_url(self, pattern):
        if not isinstance(pattern, URLPattern) or not ({"pk", "object_id"} & set(pattern.pattern.converters)):
            return pattern
        view = pattern.callback

        def scoped(request, *args, **kwargs):
            key = kwargs.get("pk", kwargs.get("object_id"))
            if not self.in_store_scope(request, key):
                raise Http404
            return view(request, *args, **kwargs)

        for attr in ("csrf_exempt", "login_required", "admin_site"):
            if hasattr(view, attr):
                setattr(scoped, attr, getattr(view, attr))
        scoped.__wrapped__ = view
        return URLPattern(pattern.pattern, scoped, pattern.default_args, pattern.name)
