"""The back office in its theme (django-unfold): every page, the sidebar by role, our own pages, Chinese and English."""

import re

import pytest
from django import forms
from django.contrib import admin
from django.contrib.auth.models import Permission
from unfold.admin import BaseInlineMixin
from unfold.admin import ModelAdmin as UnfoldModelAdmin

from loyalty.admin_navigation import GROUPS
from loyalty.admin_widgets import style_widget
from points.models import PointsAccount
from tests.factories import MemberFactory, OperatorFactory

# Registered, but not in the sidebar: schedule kinds the jobs never use (reached from a periodic task).
NOT_IN_THE_SIDEBAR = {"django_celery_beat.solarschedule", "django_celery_beat.clockedschedule"}


def test_every_admin_page_and_inline_is_drawn_by_the_theme():
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, UnfoldModelAdmin), model._meta.label
        for inline in model_admin.inlines:
            assert issubclass(inline, BaseInlineMixin), f"{model._meta.label}: {inline.__name__}"


def test_every_admin_page_has_its_place_in_the_sidebar():
    registered = {model._meta.label_lower for model in admin.site._registry}
    in_sidebar = {page.model for _title, pages in GROUPS for page in pages}

    assert in_sidebar <= registered, "a sidebar page names a model with no admin"
    assert registered - in_sidebar == NOT_IN_THE_SIDEBAR


def _sidebar(response) -> dict[str, list[str]]:
    """Group title -> titles of the pages this user may open (what the sidebar and the home page show)."""
    return {
        str(group["title"]): [str(item["title"]) for item in group["items"] if item["has_permission"]]
        for group in response.context["sidebar_navigation"]
    }


def _user_with(*perms):
    user = OperatorFactory()
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


@pytest.mark.django_db
def test_an_operator_sees_only_the_pages_it_may_view_and_no_system_settings(client):
    client.force_login(_user_with("members.view_member", "mall.view_redemption", "points.view_pointsentry"))

    response = client.get("/admin/")

    sidebar = _sidebar(response)
    assert sidebar["会员"] == ["会员"]
    assert sidebar["积分"] == ["积分流水"]
    assert sidebar["积分商城"] == ["待发货队列", "兑换单"]
    assert sidebar["系统设置"] == [] and sidebar["储值"] == []
    page = response.content.decode()
    assert "周期性任务" not in page and "/admin/django_celery_beat/" not in page
    assert "/admin/loyalty/apiclient/" not in page


@pytest.mark.django_db
def test_periodic_tasks_api_clients_and_job_runs_are_under_system_settings_only(admin_client):
    sidebar = _sidebar(admin_client.get("/admin/"))

    settings_pages = ["用户", "组", "接口客户端", "任务运行记录", "周期性任务", "计划任务", "间隔"]
    assert sidebar["系统设置"] == settings_pages
    for group, pages in sidebar.items():
        if group != "系统设置":
            assert not set(pages) & set(settings_pages), group


@pytest.mark.django_db
def test_the_sidebar_lights_the_fulfilment_queue_or_the_redemption_list_never_both(admin_client):
    def active(url):
        groups = admin_client.get(url).context["sidebar_navigation"]
        return [str(item["title"]) for group in groups for item in group["items"] if item["active"]]

    assert active("/admin/mall/redemption/?status__exact=paid&kind__exact=physical") == ["待发货队列"]
    assert active("/admin/mall/redemption/") == ["兑换单"]
    assert active("/admin/stored_value/storedvalueaccount/liability/") == ["储值负债"]
    assert active("/admin/") == ["首页"]


@pytest.mark.django_db
def test_the_theme_speaks_chinese_by_default_and_english_on_request(admin_client):
    page = admin_client.get("/admin/members/member/").content.decode()
    assert "会员运营后台" in page
    assert 'placeholder="输入关键词搜索"' in page and "筛选" in page  # the theme's own strings
    assert "Type to search" not in page

    switched = admin_client.post("/i18n/setlang/", {"language": "en", "next": "/admin/members/member/"})
    assert switched.status_code == 302

    page = admin_client.get("/admin/members/member/").content.decode()
    assert "Loyalty back office" in page and 'placeholder="Type to search"' in page


@pytest.mark.django_db
def test_the_login_page_is_the_themes_in_chinese_with_nothing_from_a_cdn(client):
    page = client.get("/admin/login/").content.decode()

    assert "欢迎回到" in page and "会员运营后台" in page
    assert "unfold/css/styles.css" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)


@pytest.mark.django_db
def test_our_own_pages_sit_in_the_themes_layout_with_their_trail_and_styled_fields(admin_client):
    account = PointsAccount.objects.create(member=MemberFactory(nickname="张三"))

    page = admin_client.get(f"/admin/points/pointsaccount/{account.pk}/adjust/").content.decode()

    assert 'id="nav-sidebar"' in page and "loyalty/admin.css" in page
    trail = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1)
    assert [
        t.strip() for t in re.findall(r">([^<>]+)<", trail) if t.strip() != "chevron_right" and t.strip()
    ] == [
        "积分",
        "积分账户",
        str(account),
        "调整积分",
    ]
    reason = re.search(r"<textarea[^>]*>", page).group(0)
    assert "border-base-200" in reason  # the theme's field, not a bare browser box
    assert re.search(r'<button type="submit"[^>]*>\s*提交调整\s*</button>', page)


def test_a_field_a_form_declares_gets_the_themes_classes_once_and_others_are_left_alone():
    class Form(forms.Form):
        name = forms.CharField()
        note = forms.CharField(widget=forms.Textarea)
        kind = forms.ChoiceField(choices=[("a", "A")])
        agree = forms.BooleanField()
        styled = forms.CharField(widget=forms.TextInput(attrs={"class": "mine"}))
        key = forms.CharField(widget=forms.HiddenInput)

    form = Form()
    for field in form.fields.values():
        style_widget(field.widget)
        style_widget(field.widget)

    classes = {name: field.widget.attrs.get("class", "") for name, field in form.fields.items()}
    assert "max-w-2xl" in classes["name"] and "border" in classes["name"].split()
    assert "max-w-4xl" in classes["note"]
    assert "appearance-none" in classes["kind"] and "pr-8!" in classes["kind"]
    assert "checked:bg-primary-600" in classes["agree"]
    assert classes["styled"] == "mine" and classes["key"] == ""
    assert classes["name"].count("max-w-2xl") == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/admin/auth/user/add/",
        "/admin/auth/group/add/",
        "/admin/django_celery_beat/periodictask/add/",
        "/admin/django_celery_beat/crontabschedule/add/",
        "/admin/analytics/dailymetrics/",
        "/admin/stored_value/storedvalueaccount/liability/",
        "/admin/mall/redemption/ship-file/",
        "/admin/membership/membershipcard/grant/",
    ],
)
def test_users_schedules_and_our_own_pages_render_in_the_theme(admin_client, url):
    response = admin_client.get(url)

    assert response.status_code == 200
    assert 'id="nav-sidebar"' in response.content.decode()


@pytest.mark.django_db
def test_a_login_at_the_login_page_lands_on_the_back_office(client):
    user = OperatorFactory(username="ops")
    user.set_password("a-long-test-password")
    user.save()

    response = client.post("/admin/login/", {"username": "ops", "password": "a-long-test-password"})

    assert response.status_code == 302 and response["Location"] == "/admin/"
