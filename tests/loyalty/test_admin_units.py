"""Every admin page types and shows money in 元, discounts in 折 and shares in %, never 分 or basis points.

These walk every registered ModelAdmin (and its inlines), so a money field added
later cannot slip back to a plain integer box in 分.
"""

import re

import pytest
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth.models import Permission, User
from django.test import RequestFactory

from loyalty.admin_tools import field_unit
from loyalty.money import ShareField, YuanField, ZheField
from mall.models import Redemption
from orders.models import CheckoutSettings
from points.models import PointsAccount, PointsEntry

pytestmark = pytest.mark.django_db

UNIT_IN_LABEL = re.compile(r"[（(,，]\s*(fen|分|basis points|基点)")
ADMINS = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


LABELS = [model._meta.label for model, _ in ADMINS]


def unit_fields(model):
    return [f for f in model._meta.concrete_fields if field_unit(f)]


def a_request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


@pytest.fixture
def superuser():
    return User.objects.create_superuser("root", "root@example.com", "pw")


@pytest.fixture
def viewer():
    """Staff who may view everything and change nothing: every page is read-only."""
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return User.objects.get(pk=user.pk)  # a fresh object: no cached permissions


def test_there_are_money_and_discount_fields_to_walk():
    models = [model for model, _ in ADMINS] + [i.model for _, a in ADMINS for i in a.inlines]
    names = {f.name for model in models for f in unit_fields(model)}
    assert {"threshold_fen", "percent_off", "discount_bp", "pay_fen", "balance_cap_fen"} <= names
    assert {"balance", "balance_after", "points", "gift_points", "points_used", "monthly_budget"} <= names


def test_points_read_with_thousands_separators_and_ids_do_not():
    account = admin.site._registry[PointsAccount]
    column = account._unit_display("balance")

    assert column(PointsAccount(balance=12345)) == "12,345"
    assert column(PointsAccount(balance=-1200)) == "-1,200"
    assert field_unit(PointsEntry._meta.get_field("balance_after")) == "points"
    assert field_unit(Redemption._meta.get_field("points_entry_id")) is None
    assert field_unit(CheckoutSettings._meta.get_field("points_per_yuan")) is None


@pytest.mark.parametrize(("model", "model_admin"), ADMINS, ids=LABELS)
def test_no_add_or_change_form_takes_money_or_discounts_as_a_plain_integer(model, model_admin, superuser):
    request = a_request(superuser)
    forms = [model_admin.get_form(request, None), model_admin.get_form(request, model(), change=True)]
    for inline in model_admin.get_inline_instances(request, None):
        forms.append(inline.get_formset(request, None).form)

    for form in forms:
        opts = form._meta.model._meta
        for name, field in form.base_fields.items():
            try:
                db_field = opts.get_field(name)
            except Exception:
                continue
            unit = field_unit(db_field)
            if unit == "yuan":
                assert isinstance(field, YuanField), f"{opts.label}.{name} is typed in 分"
                assert not UNIT_IN_LABEL.search(str(field.label)), f"{opts.label}.{name}: {field.label}"
            elif unit == "share":
                assert isinstance(field, ShareField), f"{opts.label}.{name} is not typed as a percentage"
                assert not UNIT_IN_LABEL.search(str(field.label)), f"{opts.label}.{name}: {field.label}"
            elif unit == "points":  # typed as a number (a box holding 12,345 would not parse)
                assert not isinstance(field, YuanField | ZheField | ShareField), f"{opts.label}.{name}"
            elif unit:
                assert isinstance(field, ZheField), f"{opts.label}.{name} is not typed as 折"


@pytest.mark.parametrize(("model", "model_admin"), ADMINS, ids=LABELS)
def test_every_money_field_an_admin_would_build_is_a_yuan_field(model, model_admin, superuser):
    request = a_request(superuser)
    admins = [model_admin, *model_admin.get_inline_instances(request, None)]
    for each in admins:
        for db_field in unit_fields(each.model):
            if field_unit(db_field) == "points":
                continue
            field = each.formfield_for_dbfield(db_field, request)
            assert isinstance(field, YuanField | ZheField | ShareField), (
                f"{each.model._meta.label}.{db_field.name}"
            )


@pytest.mark.parametrize(("model", "model_admin"), ADMINS, ids=LABELS)
def test_no_list_or_read_only_page_shows_a_money_field_raw(model, model_admin, viewer):
    request = a_request(viewer)
    listed = model_admin.get_list_display(request)
    keep = set(model_admin.list_editable)
    raw = [
        n
        for n in listed
        if isinstance(n, str) and n not in keep and n in {f.name for f in unit_fields(model)}
    ]
    assert raw == [], f"{model._meta.label} lists {raw} unformatted"

    obj = model()
    admins = [(model_admin, model), *[(i, i.model) for i in model_admin.get_inline_instances(request, obj)]]
    for each, shown_model in admins:
        if not each.has_view_permission(request, obj):
            continue
        names = flatten_fieldsets(each.get_fieldsets(request, obj))
        raw = [n for n in names if isinstance(n, str) and n in {f.name for f in unit_fields(shown_model)}]
        assert raw == [], f"{shown_model._meta.label} shows {raw} as raw numbers to a viewer"
