"""No page of the back office shows an operator a fen amount, a raw code, a hash or JSON.

The demo's year (``seed_demo``, 20 members) is loaded once for the module, with a row added in each
table the demo leaves empty; then every registered admin's list, add page and the change pages of
objects covering each code of each coded column are opened, and our own pages (the 工作台, the
dashboard, the portrait, the fulfilment queue, the action pages…).  What an operator reads on each
page (its text and the values in its visible boxes; not tags, attributes, scripts or hidden inputs)
is checked:

- no JSON (``{"``, ``["``, ``[]``, ``{}``, or a Python dict or list);
- no hash (32 or more hex digits) and no UUID;
- no stored code where its column has a label: not in a list's cell or a detail page's read-only value
  of a coded field, not as a whole cell anywhere, and never a snake_case code (``partially_refunded``)
  in any text;
- every ``*_fen`` field reads ``¥…`` in lists and read-only values, and its box holds yuan (``12.50``);
  every points field reads with thousands separators (``12,345``);
  every discount field reads ``8.8折``, every share (``*_share_bp``) ``50%``.
"""

import io
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
import time_machine
from celery import current_app
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import RequestFactory, TestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_celery_beat.models import ClockedSchedule, IntervalSchedule, SolarSchedule

from coupons import services as coupon_services
from coupons.models import Coupon, CouponTemplate
from loyalty import jobs
from loyalty.admin_navigation import GROUPS
from loyalty.admin_tools import DISCOUNT_SCALES, POINTS, SHARE, YUAN, field_unit
from loyalty.errors import ApplicationError
from loyalty.schedules import DEFAULT_SCHEDULES
from mall import services as mall_services
from mall.models import MallItem, Redemption
from members import codes as member_codes
from members.models import Member
from membership.models import CardPurchase, CardType, MembershipCard
from migration import export_jobs
from notifications import services as notification_services
from notifications.models import SubscribeConsent, WechatDelivery
from orders import counter_payments
from payments import services as payments
from points.models import PointsAccount, PointsWithheld, RuleKind
from stored_value import recharges
from stored_value import services as stored_value_services
from stored_value.models import RechargeOrder, StoredValueAccount
from stores.models import Store
from tests.factories import StoreFactory
from tests.helpers import local

pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("admin-pages")]

SEEDED_AT = local(2026, 12, 4, 20, 0)
CHANGE_PAGES_PER_MODEL = 12

ADMINS = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


# --- the data: the demo's year, and a row in every table it leaves empty ---------------------------


@pytest.fixture(scope="module")
def demo_year(django_db_setup, django_db_blocker, tmp_path_factory):
    """Seeded once for the module inside a transaction rolled back at its end (as a TestCase's class data)."""
    with django_db_blocker.unblock():
        atomics = TestCase._enter_atomics()
        try:
            with override_settings(BASE_DIR=tmp_path_factory.mktemp("demo")), time_machine.travel(SEEDED_AT):
                call_command("seed_demo", "--members", "20", stdout=io.StringIO())
                _rows_the_demo_leaves_out()
            yield
        finally:
            TestCase._rollback_atomics(atomics)


def _rows_the_demo_leaves_out():
    """Through the services where there is one: a bulk issue, a refund, a freeze, a message, job runs…"""
    operator = User.objects.create_user("finance", is_staff=True)
    open_members = list(
        Member.objects.filter(closed_at__isnull=True).order_by("pk").values_list("pk", flat=True)
    )

    template = next(
        t
        for t in CouponTemplate.objects.filter(is_active=True).order_by("pk")
        if t.valid_until is None or t.valid_until > timezone.now()
    )
    bulk = coupon_services.bulk_issue_create(
        template_id=template.pk, member_ids=open_members[:6], actor_id=operator.pk
    )
    coupon_services.bulk_issue_run(bulk_issue_id=bulk.pk)

    for order in RechargeOrder.objects.filter(status="credited").order_by("-pk"):
        try:
            recharges.recharge_refund(
                order_id=order.pk, actor_id=operator.pk, reason="会员申请退款", idempotency_key="sweep-refund"
            )
            break
        except ApplicationError:  # spent already
            continue
    frozen = StoredValueAccount.objects.exclude(member_id=order.member_id).order_by("pk").first()
    stored_value_services.stored_value_set_frozen(
        member_id=frozen.member_id, frozen=True, reason="疑似盗刷，待核实", actor_id=operator.pk
    )

    consent = SubscribeConsent.objects.filter(
        template_id="demo-coupons-expiring", result="accept", spent_at__isnull=True
    ).first()
    soonest = timezone.now() + timedelta(days=2)
    for n in range(2):  # one waits to be sent, one WeChat refused
        notification_services.notify_many(
            [
                notification_services.Draft(
                    member_id=consent.member_id,
                    kind="coupons_expiring",
                    title="优惠券即将过期",
                    body="您有 2 张优惠券即将过期",
                    dedupe_key=f"coupons_expiring:sweep-{n}",
                    data={"count": 2, "expires_at": soonest.isoformat()},
                )
            ]
        )
    WechatDelivery.objects.filter(pk=WechatDelivery.objects.order_by("pk").values("pk")[:1]).update(
        status="failed", attempts=1, errcode=43101, error="user refuse to accept the msg"
    )

    item = (
        MallItem.objects.filter(kind="physical", cash_fen=0).order_by("pk").first()
        or MallItem.objects.filter(kind="physical").order_by("pk").first()
    )
    member = next(
        a.member
        for a in PointsAccount.objects.select_related("member").order_by("-balance")
        if a.balance >= item.points
    )
    address = mall_services.address_create(
        member_id=member.pk, recipient="张三", phone="13800000001", province="浙江省", city="杭州市",
        district="西湖区", detail="文三路 100 号",
    )  # fmt: skip
    redemption = mall_services.redemption_create(
        member=member, item_id=item.pk, idempotency_key="sweep-physical", address_id=address.pk
    ).redemption
    if redemption.status == "pending_payment":
        payments.payment_simulate_pay(payment=payments.payment_get(out_trade_no=redemption.out_trade_no))

    account = PointsAccount.objects.order_by("pk").first()
    PointsWithheld.objects.create(
        account=account,
        rule_kind=RuleKind.PURCHASE,
        requested=500,
        granted=200,
        withheld=300,
        reason=PointsWithheld.Reason.MEMBER_DAILY,
        idempotency_key="purchase:SWEEP-1",
        reference="SWEEP-1",
    )

    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for task, result in [
        ("notifications.send_due_wechat", {"sent": 3, "pending": 1, "failed": 0}),
        ("points.expire_due", 12),
    ]:
        claim = jobs.job_claim(task=task, schedule=task, period_start=now)
        jobs.job_release(claim_id=claim, status="done", result=result)

    # a 会员码 the till used for a payment above the limit, waiting for the member's word
    member = Member.objects.get(pk=open_members[0])
    code = member_codes.member_code_issue(member=member)
    counter_payments.counter_payment_ask(
        order_no="SWEEP-COUNTER-1",
        member_id=member.pk,
        store=Store.objects.order_by("pk").first() or StoreFactory(),
        staff=None,
        request_hash="0" * 64,
        stored_value_fen=68_800,
        goods_fen=68_800,
        member_code=code.code,
    )

    with override_settings(MEDIA_ROOT=str(settings.BASE_DIR / "media")):  # the module's temporary folder
        export_jobs.export_job_run(
            job_id=export_jobs.export_job_start(
                user=operator, file_format="xlsx", filters="gender__exact=2"
            ).pk
        )
        export_jobs.export_job_start(user=operator, file_format="csv")  # one still queued

    IntervalSchedule.objects.create(every=10, period=IntervalSchedule.MINUTES)
    SolarSchedule.objects.create(event="sunrise", latitude=31.23, longitude=121.47)
    ClockedSchedule.objects.create(clocked_time=timezone.now() + timedelta(days=1))


# --- reading a page as an operator reads it ---------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
UNREAD = {"script", "style"}
# Boxes whose value is not shown as text.
UNSHOWN_INPUTS = {"hidden", "checkbox", "radio", "file", "image", "password"}
# The theme's layout classes that look like a field's.
NOT_FIELDS = {"row", "line", "tabular", "actions_holder"}


class OperatorView(HTMLParser):
    """The text an operator reads: text nodes (not in scripts, styles or icon fonts) and the values of
    visible boxes; and per field (``field-<name>`` containers), what its list cells and read-only values say."""

    def __init__(self):
        super().__init__()
        self.texts: list[str] = []  # each text node and each visible box's value
        self.inputs: list[tuple[str, str]] = []  # (name, value) of visible boxes
        # (field name or None, text) of table cells and read-only values
        self.cells: list[tuple[str | None, str]] = []
        self._stack: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "input":
            kind = (attrs.get("type") or "text").lower()
            if kind not in UNSHOWN_INPUTS and attrs.get("value"):
                self.inputs.append((attrs.get("name") or "", attrs["value"]))
                self.texts.append(attrs["value"])
            return
        if tag in VOID:
            return
        field = next(
            (c[len("field-") :] for c in classes if c.startswith("field-") and c[6:] not in NOT_FIELDS), None
        )
        self._stack.append(
            {
                "tag": tag,
                "field": field,
                "cell": tag in ("td", "th") or "readonly" in classes,
                "unread": tag in UNREAD or (tag == "span" and any("material-symbols" in c for c in classes)),
                "text": [],
            }
        )

    def handle_endtag(self, tag):
        if not any(open_["tag"] == tag for open_ in self._stack):
            return
        while self._stack:
            element = self._stack.pop()
            if element["cell"]:
                field = element["field"] or next(
                    (e["field"] for e in reversed(self._stack) if e["field"]), None
                )
                self.cells.append((field, " ".join(element["text"]).strip()))
            if element["tag"] == tag:
                break

    def handle_data(self, data):
        if any(e["unread"] for e in self._stack) or not data.strip():
            return
        self.texts.append(data.strip())
        for element in self._stack:
            if element["cell"]:
                element["text"].append(data.strip())


def read(page: str) -> OperatorView:
    view = OperatorView()
    view.feed(page)
    view.close()
    return view


# --- what an operator must never read ----------------------------------------------------------------

JSON_MARKS = ('{"', '["', "[]", "{}", "{'", "['")
NUMBER_LIST = re.compile(r"\[\s*-?\d+(?:\s*,\s*-?\d+)*\s*\]")  # [12, 13]: ids as stored
HASH = re.compile(
    r"(?<![0-9A-Za-z])(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{32,}(?![0-9A-Za-z])"
)
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
SNAKE_KEY = re.compile(r"[a-z]+(?:_[a-z]+)+")
IN_BASIS_POINTS = re.compile(r"\d\s*(?:基点|basis points)")  # a discount reads as 折
YUAN_TEXT = re.compile(r"-?\d+\.\d{2}")
UNGROUPED = re.compile(r"(?<![\d,.])\d{4,}(?![\d,.])")  # 12345 points, not 12,345
EMPTY = {"", "-", "—"}
# Stored values shown on purpose though they look like codes: a channel's code is what its QR code or
# link carries, named by the operator, shown beside the channel's name.
SHOWN_AS_STORED = {("members.Channel", "code")}


def coded_fields(model) -> dict[str, dict[str, str]]:
    """``{field name: {code: label}}`` for the model's fields with choices, the codes whose label differs."""
    coded = {}
    for field in model._meta.concrete_fields:
        if field.choices:
            codes = {str(v): str(label) for v, label in field.flatchoices if str(v) != str(label) and v != ""}
            if codes:
                coded[field.name] = codes
    return coded


def all_codes() -> set[str]:
    """Every text code (with a letter) of every coded field of every model."""
    return {
        code
        for model in apps.get_models()
        for codes in coded_fields(model).values()
        for code in codes
        if re.search(r"[a-z]", code)
    }


def unit_fields(models_, *units) -> set[str]:
    """The names of the models' fields in one of ``units`` (``field_unit``: YUAN, SHARE, or a discount's scale)."""
    return {f.name for model in models_ for f in model._meta.concrete_fields if field_unit(f) in units}


def readonly_values(response) -> list[tuple[str, str]]:
    """``(field name, text)`` of each read-only value of a change page and its inlines (the theme does not
    name a read-only value's container by its field, so they are read from the page's forms)."""
    if response.context is None or "adminform" not in response.context:
        return []
    forms = [response.context["adminform"]]
    forms += [form for formset in response.context.get("inline_admin_formsets") or [] for form in formset]
    return [
        (field.field["name"], " ".join(read(str(field.contents())).texts))
        for form in forms
        for fieldset in form
        for line in fieldset
        for field in line
        if field.is_readonly
    ]


def leaks(response, page_models) -> list[str]:
    """What the page shows that an operator should not read, each with a little of where."""
    view = read(response.content.decode())
    view.cells += readonly_values(response)
    as_stored = {
        name for model in page_models for label, name in SHOWN_AS_STORED if label == model._meta.label
    }
    found = []
    codes = all_codes()
    snake_codes = {c for c in codes if "_" in c}
    by_field: dict[str, dict[str, str]] = {}
    for model in page_models:
        for name, field_codes in coded_fields(model).items():
            by_field.setdefault(name, {}).update(field_codes)
    money = unit_fields(page_models, YUAN)
    discounts = unit_fields(page_models, *DISCOUNT_SCALES.values())
    shares = unit_fields(page_models, SHARE)
    points = unit_fields(page_models, POINTS)

    for text in view.texts:
        if mark := next((m for m in JSON_MARKS if m in text), None) or NUMBER_LIST.search(text):
            found.append(f"JSON ({mark if isinstance(mark, str) else mark.group(0)}): {text[:100]!r}")
        for pattern, what in ((HASH, "hash"), (UUID, "UUID")):
            if match := pattern.search(text):
                found.append(f"{what} {match.group(0)!r} in {text[:100]!r}")
        if IN_BASIS_POINTS.search(text):
            found.append(f"basis points: {text[:100]!r}")
        for token in set(re.findall(r"[A-Za-z0-9_]+", text)) & snake_codes:
            found.append(f"code {token!r} in {text[:100]!r}")

    for field, text in view.cells:
        if field in as_stored:
            continue
        if text in codes or SNAKE_KEY.fullmatch(text):
            found.append(f"code {text!r} as a cell (field {field})")
        if field in by_field:
            tokens = set(re.findall(r"[A-Za-z0-9_]+", text))
            shown = {c for c in by_field[field] if c == text or (re.search(r"[a-z]", c) and c in tokens)}
            if shown:
                found.append(f"code {sorted(shown)} for field {field}: {text[:100]!r}")
        if field in money and text not in EMPTY and "¥" not in text:
            found.append(f"amount of {field} not in ¥: {text[:100]!r}")
        if field in discounts and text not in EMPTY | {str(_("no discount"))} and "折" not in text:
            found.append(f"discount {field} not in 折: {text[:100]!r}")
        if field in shares and text not in EMPTY and not text.endswith("%"):
            found.append(f"share {field} not in %: {text[:100]!r}")
        if field in points and UNGROUPED.search(text):
            found.append(f"points {field} without thousands separators: {text[:100]!r}")

    for name, value in view.inputs:
        field = name.rsplit("-", 1)[-1]
        if field in money and value.strip() and not YUAN_TEXT.fullmatch(value.strip()):
            found.append(f"box {name} holds {value!r}, not yuan")
    return sorted(set(found))


# --- the pages ---------------------------------------------------------------------------------------


def change_objects(model, model_admin, request, limit=CHANGE_PAGES_PER_MODEL) -> list:
    """The first object, and the first with each code of each coded field: the page shows every label."""
    manager = model_admin.get_queryset(request)
    pks = [manager.order_by("pk").values_list("pk", flat=True).first()]
    for name, codes in coded_fields(model).items():
        for code in codes:
            pks.append(manager.filter(**{name: code}).order_by("pk").values_list("pk", flat=True).first())
    return list(dict.fromkeys(pk for pk in pks if pk is not None))[:limit]


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def first_pk(queryset):
    pk = queryset.order_by("pk").values_list("pk", flat=True).first()
    assert pk is not None, f"no {queryset.model._meta.label} to open the page of"
    return pk


def member_with_a_year():
    """The demo's first (loyal) member: every ledger has a year of their entries."""
    return first_pk(Member.objects.filter(openid__startswith="demo_", closed_at__isnull=True))


# Our own pages: (name, the page's URLs, the models whose codes and amounts it shows).
OWN_PAGES = {
    "工作台": (lambda request: ["/admin/"], []),
    "analytics dashboard": (
        lambda request: [
            "/admin/analytics/dailymetrics/",
            f"/admin/analytics/dailymetrics/?start={(SEEDED_AT - timedelta(days=364)).date()}"
            f"&end={SEEDED_AT.date()}",
        ],
        [],
    ),
    "portrait": (lambda request: [f"/admin/analytics/dailymetrics/portrait/{member_with_a_year()}/"], []),
    "growth report": (
        lambda request: [
            reverse("admin:analytics_growth"),
            f"{reverse('admin:analytics_growth')}?start={(SEEDED_AT - timedelta(days=364)).date()}"
            f"&end={SEEDED_AT.date()}",
        ],
        [],
    ),
    "member overview": (
        lambda request: [f"/admin/members/member/{member_with_a_year()}/overview/"],
        [Member],
    ),
    "fulfilment queue": (
        lambda request: ["/admin/mall/redemption/?status__exact=paid&kind__exact=physical"],
        [Redemption],
    ),
    "ship a redemption": (
        lambda request: [
            admin_url(Redemption, "ship", first_pk(Redemption.objects.filter(status="paid", kind="physical")))
        ],
        [Redemption],
    ),
    "cancel a redemption": (
        lambda request: [admin_url(Redemption, "cancel", first_pk(Redemption.objects.filter(status="paid")))],
        [Redemption],
    ),
    "ship file": (lambda request: [reverse("admin:mall_redemption_ship_file")], [Redemption]),
    "import codes": (
        lambda request: [
            admin_url(MallItem, "import_codes", first_pk(MallItem.objects.filter(kind="virtual_code")))
        ],
        [MallItem],
    ),
    "bulk issue": (
        lambda request: [
            admin_url(CouponTemplate, "bulk_issue", first_pk(CouponTemplate.objects.filter(is_active=True)))
        ],
        [CouponTemplate],
    ),
    "void a coupon": (
        lambda request: [admin_url(Coupon, "void", first_pk(Coupon.objects.filter(status="available")))],
        [Coupon],
    ),
    "card poster": (
        lambda request: [admin_url(CardType, "poster", first_pk(CardType.objects.all()))],
        [CardType],
    ),
    "grant a card": (lambda request: [reverse("admin:membership_membershipcard_grant")], [MembershipCard]),
    "revoke a card": (
        lambda request: [
            admin_url(MembershipCard, "revoke", first_pk(MembershipCard.objects.filter(status="active")))
        ],
        [MembershipCard],
    ),
    "refund a card purchase": (
        lambda request: [
            admin_url(CardPurchase, "refund", first_pk(CardPurchase.objects.filter(status="paid")))
        ],
        [CardPurchase],
    ),
    "adjust points": (
        lambda request: [
            admin_url(PointsAccount, "adjust", first_pk(PointsAccount.objects.filter(balance__gt=0)))
        ],
        [PointsAccount],
    ),
    "adjust stored value": (
        lambda request: [admin_url(StoredValueAccount, "adjust", first_pk(StoredValueAccount.objects.all()))],
        [StoredValueAccount],
    ),
    "freeze stored value": (
        lambda request: [admin_url(StoredValueAccount, "freeze", first_pk(StoredValueAccount.objects.all()))],
        [StoredValueAccount],
    ),
    "stored value liability": (
        lambda request: [reverse("admin:stored_value_liability")],
        [StoredValueAccount],
    ),
    "refund a recharge": (
        lambda request: [
            admin_url(RechargeOrder, "refund", first_pk(RechargeOrder.objects.filter(status="credited")))
        ],
        [RechargeOrder],
    ),
}


def model_pages(model, model_admin):
    inlines = [inline.model for inline in model_admin.inlines]
    return {
        f"{model._meta.label} list": (lambda request: [admin_url(model, "changelist")], [model, *inlines]),
        f"{model._meta.label} add": (lambda request: [admin_url(model, "add")], [model, *inlines]),
        f"{model._meta.label} change": (
            lambda request: [
                admin_url(model, "change", pk) for pk in change_objects(model, model_admin, request)
            ],
            [model, *inlines],
        ),
    }


PAGES = {
    name: page for model, model_admin in ADMINS for name, page in model_pages(model, model_admin).items()
}
PAGES.update(OWN_PAGES)


@pytest.mark.parametrize("name", list(PAGES))
def test_no_page_shows_an_operator_fen_codes_hashes_or_json(demo_year, admin_client, admin_user, name):
    urls, page_models = PAGES[name]
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    if name.endswith(" add"):
        model_admin = next(a for m, a in ADMINS if name == f"{m._meta.label} add")
        if not model_admin.has_add_permission(request):
            pytest.skip("no add page")
    urls = urls(request)
    assert urls, f"{name}: no object to open"

    problems = []
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        problems += [f"{url}: {leak}" for leak in leaks(response, page_models)]
    assert not problems, "\n".join(problems)


# --- 系统设置: no engineer's names (task paths, cron expressions, English keys) ------------------------------

SYSTEM_SETTINGS = GROUPS[-1][1]  # the sidebar's last group
SYSTEM_MODELS = sorted({apps.get_model(page.model) for page in SYSTEM_SETTINGS}, key=lambda m: m._meta.label)
ENGLISH_PHRASE = re.compile(r"[A-Za-z]+(?: [A-Za-z]+){2,}")


def engineers_names(view: OperatorView) -> list[str]:
    """What an engineer reads on a 系统设置 page: a Celery task's Python name, a crontab as beat prints it,
    a schedule's English key, a permission's stored English name, an English phrase."""
    tasks = {name for name in current_app.tasks if not name.startswith("celery.")}
    keys = {schedule.name for schedule in DEFAULT_SCHEDULES}
    found = []
    for text in view.texts:
        if "(m/h/dM/MY/d)" in text or re.search(r"\b(?:True|False|None)\b", text):
            found.append(f"crontab or Python value as stored: {text[:100]!r}")
        if shown := tasks & set(re.findall(r"[a-z_]+\.[a-z_]+", text)):
            found.append(f"task {sorted(shown)}: {text[:100]!r}")
        if text in keys or (phrase := ENGLISH_PHRASE.search(text)):
            found.append(f"English {text[:100]!r}" if text in keys else f"English {phrase.group(0)!r}")
    return found


@pytest.mark.parametrize("model", SYSTEM_MODELS, ids=lambda model: model._meta.label)
def test_system_settings_pages_show_no_engineers_names(demo_year, admin_client, admin_user, model):
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    urls = [admin_url(model, "changelist")]
    urls += [admin_url(model, "change", pk) for pk in change_objects(model, model_admin, request, limit=3)]
    if model_admin.has_add_permission(request):
        urls.append(admin_url(model, "add"))
    problems = []
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        view = read(response.content.decode())
        view.texts = [t for t in view.texts if "@" not in t]  # a user's e-mail address
        problems += [f"{url}: {found}" for found in engineers_names(view)]
    assert not problems, "\n".join(problems)
