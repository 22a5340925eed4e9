"""The back office's sidebar: its pages grouped the way an operator thinks of them.

``UNFOLD["SIDEBAR"]["navigation"]`` names ``sidebar``, which the theme calls on
every admin request.  Each page shows only to a user who may view it (the
page's ModelAdmin answers, so a read-only ledger or a role's group decides as
on the page itself); a group with no page left is hidden.  Only the one page
that matches the request best is marked active, so the fulfilment queue and
the redemption list (one URL, two filters) are not both lit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.apps import apps
from django.contrib import admin
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


@dataclass(frozen=True)
class Page:
    """One sidebar link: a model's list (or ``url_name``), seen by whoever may view ``model``."""

    model: str  # "app_label.model_name"
    icon: str  # a Material Symbols name
    title: object = None  # the model's verbose_name_plural when None
    url_name: str | None = None
    query: dict = field(default_factory=dict)
    permission: str | None = None  # also needed, beyond viewing ``model`` (a page that exports, say)


GROUPS = [
    (
        pgettext_lazy("sidebar", "Members"),
        [
            Page("members.member", "person"),
            Page(
                "members.member",
                "download",
                title=_("Export members"),
                url_name="member-export",
                permission="members.export_members",
            ),
            Page("migration.exportjob", "cloud_download"),
            Page("analytics.membertag", "sell"),
            Page("analytics.segment", "groups_2"),
            Page("membership.membershipcard", "card_membership"),
            Page("membership.cardtype", "style"),
            Page("membership.cardpurchase", "shopping_bag"),
            Page("membership.memberday", "event"),
            Page("membership.tier", "military_tech"),
            Page("membership.membership", "badge"),
            Page("membership.growthentry", "trending_up"),
            Page("membership.tierchange", "swap_vert"),
            Page("membership.cardevent", "history"),
            Page("membership.membershippolicy", "tune"),
            Page("members.channel", "qr_code_2"),
            Page("members.closedmember", "person_off"),
            Page("members.membercode", "qr_code_scanner"),
            Page("migration.importjob", "upload_file"),
            Page("migration.mappingpreset", "table_rows"),
        ],
    ),
    (
        pgettext_lazy("sidebar", "Stores"),
        [
            Page("stores.store", "store"),
            Page("stores.staff", "badge"),
        ],
    ),
    (
        pgettext_lazy("sidebar", "Points"),
        [
            Page("points.pointsaccount", "account_balance_wallet"),
            Page("points.pointsentry", "receipt_long"),
            Page("points.earningrule", "rule"),
            Page("points.checkin", "event_available"),
            Page("points.pointslot", "inventory_2"),
            Page("points.pointswithheld", "block"),
            Page("points.pointspolicy", "tune"),
        ],
    ),
    (
        pgettext_lazy("sidebar", "Stored value"),
        [
            Page("stored_value.storedvalueaccount", "savings"),
            Page("stored_value.rechargeorder", "payments"),
            Page("stored_value.rechargeplan", "sell"),
            Page("stored_value.storedvalueentry", "receipt_long"),
            Page("stored_value.freezeevent", "ac_unit"),
            Page(
                "stored_value.storedvalueaccount",
                "account_balance",
                title=_("Stored-value liability"),
                url_name="admin:stored_value_liability",
            ),
            Page("stored_value.storedvaluepolicy", "tune"),
        ],
    ),
    (
        pgettext_lazy("sidebar", "Coupons"),
        [
            Page("coupons.coupontemplate", "confirmation_number"),
            Page("coupons.coupon", "local_activity"),
            Page("coupons.bulkissue", "send"),
            Page("coupons.giftpack", "redeem"),
            Page("coupons.giftpackgrant", "card_giftcard"),
        ],
    ),
    (
        pgettext_lazy("sidebar", "Points mall"),
        [
            Page(
                "mall.redemption",
                "local_shipping",
                title=_("Fulfilment queue"),
                query={"status__exact": "paid", "kind__exact": "physical"},
            ),
            Page("mall.redemption", "receipt"),
            Page("mall.mallitem", "storefront"),
            Page("mall.category", "category"),
            Page("mall.virtualcode", "key"),
        ],
    ),
    (
        pgettext_lazy("sidebar", "Group buying and bargains"),
        [
            Page("growth.groupbuyactivity", "groups"),
            Page("growth.group", "diversity_3"),
            Page("growth.refundedplace", "currency_exchange"),
            Page("growth.bargainactivity", "content_cut"),
            Page("growth.bargain", "sell"),
        ],
    ),
    (
        pgettext_lazy("sidebar", "Orders"),
        [
            Page("orders.order", "shopping_cart"),
            Page("orders.counterpayment", "phonelink_lock"),
            Page("payments.payment", "credit_card"),
            Page("payments.paymentrefund", "currency_exchange"),
            Page("payments.paymentnotification", "notifications"),
            Page("orders.checkoutsettings", "tune"),
        ],
    ),
    (
        pgettext_lazy("sidebar", "Analytics"),
        [
            Page("analytics.dailymetrics", "monitoring", title=pgettext_lazy("sidebar", "Dashboard")),
            Page(
                "analytics.dailymetrics",
                "campaign",
                title=_("Growth tools report"),
                url_name="admin:analytics_growth",
                permission="growth.view_groupbuyactivity",
            ),
            Page("analytics.rfmscore", "scatter_plot"),
            Page("analytics.rfmrun", "autorenew"),
            Page("analytics.analyticssettings", "tune"),
        ],
    ),
    (
        pgettext_lazy("sidebar", "Messages"),
        [
            Page("notifications.wechattemplate", "chat"),
            Page("notifications.wechatdelivery", "outgoing_mail"),
            Page("notifications.subscribeconsent", "how_to_reg"),
        ],
    ),
    (
        pgettext_lazy("sidebar", "System settings"),
        [
            Page("auth.user", "manage_accounts"),
            Page("auth.group", "admin_panel_settings"),
            Page("loyalty.apiclient", "api"),
            Page("loyalty.jobrun", "pending_actions"),
            Page("django_celery_beat.periodictask", "schedule"),
            Page("django_celery_beat.crontabschedule", "calendar_month"),
            Page("django_celery_beat.intervalschedule", "timer"),
        ],
    ),
]


def sidebar(request) -> list[dict]:
    """The theme's navigation for this request: the home page, then GROUPS, each page with its permission."""
    home = {
        "title": pgettext_lazy("sidebar", "Home"),
        "icon": "home",
        "link": reverse("admin:index"),
    }
    groups = [{"title": None, "items": [home]}]
    for title, pages in GROUPS:
        items = [item for page in pages if (item := _item(request, page))]
        groups.append({"title": title, "separator": False, "collapsible": True, "items": items})
    _mark_active(request, [item for group in groups for item in group["items"]])
    return groups


def _item(request, page: Page) -> dict | None:
    model = apps.get_model(page.model)
    model_admin = admin.site._registry.get(model)
    if model_admin is None:
        return None
    opts = model._meta
    link = reverse(page.url_name or f"admin:{opts.app_label}_{opts.model_name}_changelist")
    allowed = model_admin.has_view_permission(request) and (
        page.permission is None or request.user.has_perm(page.permission)
    )
    return {
        "title": page.title or capfirst(opts.verbose_name_plural),
        "icon": page.icon,
        "link": f"{link}?{urlencode(page.query)}" if page.query else link,
        "permission": lambda request, allowed=allowed: allowed,
        "_path": link,
        "_query": page.query,
    }


def _mark_active(request, items: list[dict]) -> None:
    """Marks the one item whose path is the longest prefix of the request's (its filters present)."""

    def score(item):
        path = item.get("_path", item["link"])
        if path == reverse("admin:index"):
            return (1, 0) if request.path == path else None
        query = item.get("_query", {})
        if not request.path.startswith(path) or any(request.GET.get(k) != v for k, v in query.items()):
            return None
        return (len(path), len(query))

    scored = [(s, item) for item in items if (s := score(item)) is not None]
    best = max(scored, key=lambda pair: pair[0])[1] if scored else None
    for item in items:
        item["active"] = item is best
