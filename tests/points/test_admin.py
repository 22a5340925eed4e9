"""The points admin: read-only ledgers, the adjustment form and the CSV export."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from members.models import Member
from points import earning
from points.models import CheckIn, PointsAccount, PointsEntry, PointsLot, PointsWithheld, RuleKind
from tests.factories import MemberFactory
from tests.helpers import assert_reads_as_the_admin, csv_download, page_text
from tests.points.helpers import balance, earn, snapshot, spend

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("default_rules")]


@pytest.fixture
def ledger_rows(member):
    """One row in each read-only table."""
    earn(member, 100, key="e1")
    spend(member, 30, key="s1")
    earning.points_check_in(member_id=member.pk)
    PointsWithheld.objects.create(
        account=PointsAccount.objects.get(member=member),
        rule_kind=RuleKind.PURCHASE,
        requested=50,
        granted=20,
        withheld=30,
        reason=PointsWithheld.Reason.MEMBER_DAILY,
        idempotency_key="purchase:NO-1",
    )
    return member


def staff(client, username, *perms):
    user = User.objects.create_user(username=username, password="pw", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client.force_login(user)
    return user


def adjust_url(member) -> str:
    return f"/admin/points/pointsaccount/{PointsAccount.objects.get(member=member).pk}/adjust/"


def export(client, params=None) -> list[dict]:
    """The export's rows by their (Chinese) headers; ``csv_download`` checks the BOM Excel needs."""
    name, rows = csv_download(client.get("/admin/points/pointsentry/export/", params or {}))
    assert name == f"积分流水_{timezone.localdate()}.csv"
    return rows


# --- read-only ledgers --------------------------------------------------------------

READ_ONLY = {
    "pointsentry": lambda m: PointsEntry.objects.filter(account__member=m).first(),
    "pointslot": lambda m: PointsLot.objects.filter(account__member=m).first(),
    "pointsaccount": lambda m: PointsAccount.objects.get(member=m),
    "pointswithheld": lambda m: PointsWithheld.objects.get(account__member=m),
    "checkin": lambda m: CheckIn.objects.get(member=m),
}


@pytest.mark.parametrize("model", READ_ONLY)
def test_the_ledger_tables_are_listed_and_shown_but_never_added_to(admin_client, ledger_rows, model):
    obj = READ_ONLY[model](ledger_rows)
    base = f"/admin/points/{model}/"

    assert admin_client.get(base).status_code == 200
    detail = admin_client.get(f"{base}{obj.pk}/change/")
    assert detail.status_code == 200
    assert not detail.context["has_change_permission"]
    assert 'name="_save"' not in detail.content.decode()
    assert admin_client.get(f"{base}add/").status_code == 403
    assert f'href="{base}add/"' not in admin_client.get(base).content.decode()


@pytest.mark.parametrize("model", READ_ONLY)
def test_the_ledger_tables_refuse_edits_and_deletes(admin_client, ledger_rows, model):
    obj = READ_ONLY[model](ledger_rows)
    before = snapshot(ledger_rows), CheckIn.objects.count(), PointsWithheld.objects.count()
    base = f"/admin/points/{model}/"

    assert admin_client.post(f"{base}add/", {}).status_code == 403
    assert admin_client.post(f"{base}{obj.pk}/change/", {"balance": 999, "remaining": 0}).status_code == 403
    assert admin_client.get(f"{base}{obj.pk}/delete/").status_code == 403
    assert admin_client.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = admin_client.post(base, {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"})
    assert bulk.status_code in (200, 302)  # no delete action is offered: the request is ignored

    assert (snapshot(ledger_rows), CheckIn.objects.count(), PointsWithheld.objects.count()) == before


# --- adjusting a balance ----------------------------------------------------------------


def test_staff_without_the_adjust_permission_cannot_adjust(client, member):
    earn(member, 100, key="e")
    staff(client, "clerk", "points.view_pointsaccount", "points.change_pointsaccount")
    before = snapshot(member)

    assert client.get(adjust_url(member)).status_code == 403
    response = client.post(adjust_url(member), {"amount": 50, "reason": "r", "idempotency_key": "k"})

    assert response.status_code == 403
    assert snapshot(member) == before
    assert not LogEntry.objects.exists()


def test_the_adjust_form_shows_the_current_balance(client, member):
    earn(member, 120, key="e")
    staff(client, "finance", "points.adjust_points")

    response = client.get(adjust_url(member))

    assert response.status_code == 200
    assert response.context["account"].balance == 120
    assert "120" in response.content.decode()
    assert response.context["form"]["idempotency_key"].value()  # a fresh key per form: double submits replay


def test_an_adjustment_needs_a_reason(client, member):
    earn(member, 100, key="e")
    staff(client, "finance", "points.adjust_points")
    before = snapshot(member)

    response = client.post(adjust_url(member), {"amount": 50, "reason": "", "idempotency_key": "k"})

    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert snapshot(member) == before
    assert not LogEntry.objects.exists()


def test_an_adjustment_of_zero_is_refused(client, member):
    earn(member, 100, key="e")
    staff(client, "finance", "points.adjust_points")
    before = snapshot(member)

    response = client.post(adjust_url(member), {"amount": 0, "reason": "r", "idempotency_key": "k"})

    assert "amount" in response.context["form"].errors
    assert snapshot(member) == before


def test_an_adjustment_posts_an_entry_with_the_operator_and_writes_the_admin_log(client, member):
    earn(member, 100, key="e")
    operator = staff(client, "finance", "points.adjust_points")
    account = PointsAccount.objects.get(member=member)

    response = client.post(
        adjust_url(member), {"amount": 50, "reason": "门店补录订单 NO-7", "idempotency_key": "k1"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/admin/points/pointsaccount/{account.pk}/change/"
    entry = PointsEntry.objects.get(account=account, kind="adjust")
    assert (entry.amount, entry.balance_after, entry.actor, entry.memo) == (
        50,
        150,
        operator,
        "门店补录订单 NO-7",
    )
    assert balance(member) == 150
    assert entry.lot.remaining == 50 and entry.lot.expires_at is None
    log = LogEntry.objects.get()
    assert (log.user, log.action_flag, log.object_id) == (operator, CHANGE, str(account.pk))
    assert "+50" in log.change_message and "门店补录订单 NO-7" in log.change_message


def test_a_deduction_takes_points_like_a_spend(client, member):
    earn(member, 100, key="e")
    operator = staff(client, "finance", "points.adjust_points")

    response = client.post(adjust_url(member), {"amount": -40, "reason": "误发", "idempotency_key": "k1"})

    assert response.status_code == 302
    entry = PointsEntry.objects.get(account__member=member, kind="adjust")
    assert (entry.amount, entry.actor) == (-40, operator)
    assert balance(member) == 60
    assert [(a.lot.amount, a.amount) for a in entry.allocations.all()] == [(100, 40)]
    assert "-40" in LogEntry.objects.get().change_message


def test_a_deduction_larger_than_the_balance_is_refused_and_writes_nothing(client, member):
    earn(member, 100, key="e")
    staff(client, "finance", "points.adjust_points")
    before = snapshot(member)

    response = client.post(adjust_url(member), {"amount": -101, "reason": "误发", "idempotency_key": "k1"})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert snapshot(member) == before
    assert not LogEntry.objects.exists()


def test_submitting_the_same_adjustment_form_twice_posts_it_once(client, member):
    earn(member, 100, key="e")
    staff(client, "finance", "points.adjust_points")
    form = {"amount": 50, "reason": "补偿", "idempotency_key": "same-form"}

    client.post(adjust_url(member), form)
    second = client.post(adjust_url(member), form)

    assert second.status_code == 302
    assert PointsEntry.objects.filter(account__member=member, kind="adjust").count() == 1
    assert balance(member) == 150
    assert LogEntry.objects.count() == 1


def test_only_staff_reach_the_adjust_form(client, member):
    earn(member, 100, key="e")
    user = User.objects.create_user(username="not-staff", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="adjust_points"))
    client.force_login(user)
    before = snapshot(member)

    response = client.post(adjust_url(member), {"amount": 50, "reason": "r", "idempotency_key": "k"})

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert snapshot(member) == before


# --- CSV export -----------------------------------------------------------------------------


def test_the_changelist_links_to_the_export_with_its_filters(admin_client, ledger_rows):
    page = admin_client.get("/admin/points/pointsentry/", {"kind__exact": "spend"}).content.decode()

    assert 'href="/admin/points/pointsentry/export/?kind__exact=spend"' in page


def test_the_export_is_the_whole_ledger_as_csv_oldest_first(admin_client):
    alice = MemberFactory(nickname="张三")
    earn(alice, 100, key="e1", source="checkin")
    spend(alice, 30, key="s1")

    rows = export(admin_client)

    assert list(rows[0]) == [
        "ID", "时间", "会员ID", "会员", "类型", "积分", "变动后余额", "来源", "关联单号", "备注", "操作员",
    ]  # fmt: skip
    assert_reads_as_the_admin(rows, "earn", "spend", "checkin")
    assert [(r["会员ID"], r["会员"], r["类型"], r["积分"], r["变动后余额"], r["来源"]) for r in rows] == [
        (str(alice.pk), "张三", "获得", "100", "100", "每日签到"),
        (str(alice.pk), "张三", "使用", "-30", "70", ""),
    ]


def test_the_export_names_a_closed_account_as_the_admin_does(admin_client, member):
    earn(member, 100, key="e1")
    Member.objects.filter(pk=member.pk).update(closed_at=timezone.now(), nickname="", phone="")

    rows = export(admin_client)

    assert [(r["会员ID"], r["会员"]) for r in rows] == [(str(member.pk), f"已注销会员 #{member.pk}")]


def test_the_export_honours_the_kind_filter(admin_client, member):
    earn(member, 100, key="e1")
    spend(member, 30, key="s1")
    earn(member, 5, key="e2")
    spend(member, 20, key="s2")

    rows = export(admin_client, {"kind__exact": "spend"})

    assert [(r["类型"], r["积分"]) for r in rows] == [("使用", "-30"), ("使用", "-20")]


def test_the_export_honours_the_search_box(admin_client):
    alice, bob = MemberFactory(), MemberFactory()
    earn(alice, 100, key="a")
    earn(bob, 7, key="b")

    rows = export(admin_client, {"q": str(bob.pk)})

    assert [(r["会员ID"], r["积分"]) for r in rows] == [(str(bob.pk), "7")]


def test_the_export_names_the_operator_of_an_adjustment(admin_client, admin_user, member):
    admin_client.post(
        adjust_url_for_new_account(member), {"amount": 8, "reason": "r", "idempotency_key": "k"}
    )

    rows = export(admin_client, {"kind__exact": "adjust"})

    assert [(r["积分"], r["来源"], r["备注"], r["操作员"]) for r in rows] == [
        ("8", "人工调整", "r", admin_user.username)
    ]


def adjust_url_for_new_account(member) -> str:
    earn(member, 1, key="opens-the-account")
    return adjust_url(member)


def test_an_export_with_an_unknown_filter_is_not_a_server_error(admin_client, member):
    earn(member, 100, key="e")
    admin_client.raise_request_exception = False

    changelist = admin_client.get("/admin/points/pointsentry/", {"kind__nope": "spend"})
    response = admin_client.get("/admin/points/pointsentry/export/", {"kind__nope": "spend"})

    assert changelist.status_code == 302 and changelist["Location"].endswith("?e=1")
    assert response.status_code == 302 and response["Location"].endswith("?e=1")


def test_staff_without_view_permission_cannot_export(client, member):
    earn(member, 100, key="e")
    staff(client, "clerk", "points.adjust_points")

    assert client.get("/admin/points/pointsentry/export/").status_code == 403


def test_the_export_quotes_text_a_spreadsheet_would_run_as_a_formula(admin_client):
    mallory = MemberFactory(nickname='=HYPERLINK("http://evil","x")')
    earn(mallory, 100, key="e1")
    spend(mallory, 30, key="s1")

    rows = export(admin_client)

    assert {r["会员"] for r in rows} == {'\'=HYPERLINK("http://evil","x")'}
    assert [r["积分"] for r in rows] == ["100", "-30"]  # numbers stay numbers


def test_points_cannot_be_added_already_expired(client, member):
    url = adjust_url_for_new_account(member)
    staff(client, "finance", "points.adjust_points")
    before = snapshot(member)

    response = client.post(
        url, {"amount": 50, "reason": "r", "idempotency_key": "k", "expires_at": "2000-01-01 00:00:00"}
    )

    assert response.status_code == 200 and "expires_at" in response.context["form"].errors
    assert snapshot(member) == before


def test_the_ledger_reads_every_source_in_chinese_and_shows_no_machine_key(admin_client, member):
    sources = {
        "signup": "注册奖励",
        "first_order": "首单奖励",
        "order": "订单",
        "mall": "积分商城",
        "gift_pack": "礼包",
        "recharge_gift": "充值赠送",
        "closure": "账户注销",
    }
    for n, source in enumerate(sources):
        earn(member, 10 + n, key=f"k{n}", source=source)
    entry = PointsEntry.objects.filter(account__member=member).first()

    listing = page_text(admin_client.get("/admin/points/pointsentry/"))
    lots = page_text(admin_client.get("/admin/points/pointslot/"))
    detail = admin_client.get(f"/admin/points/pointsentry/{entry.pk}/change/")

    for code, label in sources.items():
        assert listing.count(label) >= 2, code  # the column and the filter
        assert label in lots, code
        assert code not in listing and code not in lots
    assert "注册奖励" in page_text(detail)
    assert (
        entry.idempotency_key not in detail.content.decode()
        and entry.request_hash not in detail.content.decode()
    )


# --- an earning rule shows only the fields of its kind ---------------------------------------------


def _rule_form(rule, **fields):
    return {
        "kind": rule.kind,
        "is_active": "on",
        "points": str(rule.points),
        "points_per_yuan": str(rule.points_per_yuan),
        "expiry_policy": "end_of_next_year",
        **fields,
    }


def test_check_in_streak_bonuses_are_rows_stored_as_the_mapping_they_always_were(admin_client):
    from points.models import EarningRule

    rule = EarningRule.objects.get(kind=RuleKind.CHECKIN)
    url = f"/admin/points/earningrule/{rule.pk}/change/"

    response = admin_client.post(
        url,
        _rule_form(
            rule,
            points="1",
            points_per_yuan="0",
            streak_bonuses_key=["7", "3", ""],
            streak_bonuses_value=["20", "5", ""],
            streak_cycle_days="7",
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    rule.refresh_from_db()
    assert (rule.streak_bonuses, rule.streak_cycle_days) == ({"7": 20, "3": 5}, 7)
    page = admin_client.get(url).content.decode()
    assert page.index('name="streak_bonuses_key" value="3"') < page.index(
        'name="streak_bonuses_key" value="7"'
    )


@pytest.mark.parametrize(
    ("kind", "fields", "field", "message"),
    [
        (
            RuleKind.PURCHASE,
            {"streak_bonuses_key": ["3"], "streak_bonuses_value": ["5"]},
            "streak_bonuses",
            "不适用于「消费」",
        ),
        (RuleKind.SIGNUP, {"points_per_yuan": "2"}, "points_per_yuan", "不适用于「注册奖励」"),
        (
            RuleKind.CHECKIN,
            {"streak_bonuses_key": ["9"], "streak_bonuses_value": ["5"], "streak_cycle_days": "7"},
            "streak_bonuses",
            "超出了 7 天的周期",
        ),
        (
            RuleKind.CHECKIN,
            {"streak_bonuses_key": ["3"], "streak_bonuses_value": [""]},
            "streak_bonuses",
            "第 1 行",
        ),
        (RuleKind.CHECKIN, {"expiry_policy": "rolling_days"}, "expiry_days", "请填写积分在多少天后过期"),
    ],
)
def test_an_earning_rule_that_does_not_add_up_is_explained_in_chinese(
    admin_client, kind, fields, field, message
):
    from points.models import EarningRule

    rule = EarningRule.objects.get(kind=kind)
    before = (rule.points, rule.points_per_yuan, rule.streak_bonuses)

    response = admin_client.post(f"/admin/points/earningrule/{rule.pk}/change/", _rule_form(rule, **fields))

    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors[field])
    rule.refresh_from_db()
    assert (rule.points, rule.points_per_yuan, rule.streak_bonuses) == before


def test_the_export_names_every_member_without_a_query_per_row(admin_client, django_assert_max_num_queries):
    for i in range(6):
        earn(MemberFactory(), 10, key=f"e{i}")

    with django_assert_max_num_queries(5):  # session, user, the rows in one query
        rows = export(admin_client)

    assert len(rows) == 6 and all(r["会员"] for r in rows)
