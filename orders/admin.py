"""Orders back office: each order with its settlement, lines, refunds, history and links to every
ledger entry and coupon it touched; the checkout settings (积分抵现)."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from loyalty.admin_tools import (
    MEMBER_HEADER,
    CsvExportMixin,
    ModelAdmin,
    ReadOnlyAdminMixin,
    TabularInline,
    in_yuan,
    local_time,
    member_cells,
    money,
    rows_table,
)
from loyalty.money import format_fen, yuan_text
from membership.selectors import benefit_sources_text
from orders.models import CheckoutSettings, CounterPayment, Order, OrderEvent, OrderLine, Refund
from stores.scoping import StoreScopedAdminMixin

SETTLEMENT = [
    ("goods_fen", _("goods")),
    ("shipping_fen", _("shipping fee")),
    ("benefit_discount_fen", _("member discount")),
    ("coupon_discount_fen", _("coupon discount")),
    ("shipping_discount_fen", _("shipping discount")),
    ("points_fen", _("points deduction")),
    ("stored_value_fen", _("stored value paid")),
    ("cash_fen", _("cash due")),
    ("refunded_stored_value_fen", _("stored value refunded")),
    ("refunded_cash_fen", _("cash refunded")),
]


class ReadOnlyInline(TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = [
        "line_no",
        "sku",
        "name",
        "category",
        "quantity",
        "refunded_quantity",
        money("unit_price_fen", _("unit price")),
        money("amount_fen", _("amount")),
        money("benefit_discount_fen", _("member discount")),
        money("coupon_discount_fen", _("coupon discount")),
        "points",
        money("points_fen", _("points deduction")),
        money("stored_value_fen", _("stored value paid")),
        money("cash_fen", _("cash")),
    ]
    readonly_fields = fields


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = [
        "refund_no",
        "created_at",
        money("goods_fen", _("goods")),
        money("shipping_fen", _("shipping refunded")),
        "points",
        money("stored_value_fen", _("stored value refunded")),
        money("cash_fen", _("cash to refund")),
        "earned_points_reversed",
        "coupons_restored_links",
        "account_closed",
        money("stored_value_paid_out_fen", _("stored value to return outside")),
    ]
    readonly_fields = fields

    @admin.display(description=_("coupons restored"))
    def coupons_restored_links(self, refund):
        """Each coupon given back by the refund, a link to it (the ids as stored are a JSON list)."""
        links = [
            _link("admin:coupons_coupon_change", pk, f"{_('coupon')} #{pk}") for pk in refund.coupons_restored
        ]
        return format_html_join(mark_safe("<br>"), "{}", ((link,) for link in links)) or "—"


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "kind", "from_status", "to_status", "reference"]
    readonly_fields = fields


def _link(view: str, pk, label) -> str:
    return format_html('<a href="{}">{}</a>', reverse(view, args=[pk]), label)


@admin.register(Order)
class OrderAdmin(StoreScopedAdminMixin, CsvExportMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "order_no",
        "member",
        "status",
        money("goods_fen", _("goods")),
        money("benefit_discount_fen", _("member discount")),
        money("coupon_discount_fen", _("coupon discount")),
        "points_used",
        money("stored_value_fen", _("stored value paid")),
        money("cash_fen", _("cash due")),
        "store",
        "staff",
        "committed_local",
    ]
    list_filter = ["status", ("committed_at", admin.DateFieldListFilter)]
    search_fields = ["=order_no", "=member__id", "member__phone", "member__openid"]
    list_select_related = ["member", "store", "staff"]
    date_hierarchy = "committed_at"
    show_full_result_count = False
    inlines = [OrderLineInline, RefundInline, OrderEventInline]
    fields = [
        "order_no",
        "member",
        "status",
        "store",
        "staff",
        "settlement",
        "points_used",
        "points_multiplier",
        "earned_points",
        "refunded_points",
        "reversed_earned_points",
        "ledger_links",
        "committed_local",
        "expires_at",
        "completed_at",
        "cancelled_at",
        "benefits",
    ]  # not the quote's and the request's hashes: they stay in the database, for the API's replays
    readonly_fields = fields

    @admin.display(description=_("committed at"), ordering="committed_at")
    def committed_local(self, obj):
        return local_time(obj.committed_at)

    @admin.display(description=_("settlement"))
    def settlement(self, obj):
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "",
                "<tr><th>{}</th><td>{}</td></tr>",
                ((label, format_fen(getattr(obj, f))) for f, label in SETTLEMENT),
            ),
        )

    @admin.display(description=_("benefit sources"))
    def benefits(self, obj):
        return rows_table(benefit_sources_text(obj.benefit_sources))

    @admin.display(description=_("ledger entries and coupons"))
    def ledger_links(self, obj):
        links = []
        points = [
            (_("spent on the order"), obj.points_spend_entry_id),
            (_("earned"), obj.points_earn_entry_id),
        ]
        for refund in obj.refunds.all():
            back = {"no": refund.refund_no}
            points += [(_("given back by refund %(no)s") % back, refund.points_reverse_entry_id)]
            points += [(_("earned points taken back by refund %(no)s") % back, refund.earn_reverse_entry_id)]
        for label, pk in points:
            if pk:
                links.append(_link("admin:points_pointsentry_change", pk, f"{_('points')} #{pk} ({label})"))
        stored = [(_("spent on the order"), obj.stored_value_entry_id)]
        for r in obj.refunds.all():
            stored += [(_("given back by refund %(no)s") % {"no": r.refund_no}, r.stored_value_entry_id)]
            stored += [
                (
                    _("paid out by refund %(no)s (account closed)") % {"no": r.refund_no},
                    r.stored_value_payout_entry_id,
                )
            ]
        for label, pk in stored:
            if pk:
                links.append(
                    _link(
                        "admin:stored_value_storedvalueentry_change",
                        pk,
                        f"{_('stored value')} #{pk} ({label})",
                    )
                )
        for coupon_id in obj.coupon_ids:
            links.append(_link("admin:coupons_coupon_change", coupon_id, f"{_('coupon')} #{coupon_id}"))
        return format_html_join(mark_safe("<br>"), "{}", ((link,) for link in links)) or "—"

    csv_header = [
        _("order number"),
        *MEMBER_HEADER,
        _("status"),
        *(in_yuan(label) for _field, label in SETTLEMENT[:2]),
        _("points used"),
        *(in_yuan(label) for _field, label in SETTLEMENT[2:]),
        _("committed at"),
        _("completed at"),
        _("store"),
        _("staff"),
    ]

    def csv_row(self, o) -> list:
        amounts = [yuan_text(getattr(o, field)) for field, _label in SETTLEMENT]
        return [
            o.order_no,
            *member_cells(o.member),
            o.get_status_display(),
            *amounts[:2],
            o.points_used,
            *amounts[2:],
            local_time(o.committed_at),
            local_time(o.completed_at),
            o.store.name if o.store_id else "",
            str(o.staff) if o.staff_id else "",
        ]


@admin.register(CheckoutSettings)
class CheckoutSettingsAdmin(ModelAdmin):
    list_display = [
        "__str__",
        "points_deduction_enabled",
        "points_per_yuan",
        "max_share_bp",
        "min_points",
        "combine_with_coupons",
        "commit_timeout_minutes",
        "counter_confirm_above_fen",
    ]

    def has_add_permission(self, request):
        return not CheckoutSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CounterPayment)
class CounterPaymentAdmin(StoreScopedAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    """The counter's stored-value payments above the merchant's limit that waited for the member's word:
    who was asked, at which store, for how much, and what the member answered (read only)."""

    list_display = [
        "order_no",
        "member",
        money("stored_value_fen", _("stored value to pay")),
        money("goods_fen", _("goods")),
        "status",
        "store",
        "staff",
        "asked_local",
        "answered_local",
    ]
    list_filter = ["status", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=order_no", "=member__id", "member__phone", "member__openid"]
    list_select_related = ["member", "store", "staff"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = [
        "order_no",
        "member",
        "store",
        "staff",
        money("stored_value_fen", _("stored value to pay")),
        money("goods_fen", _("goods")),
        "status",
        "asked_local",
        "answer_by_local",
        "answered_local",
    ]
    readonly_fields = fields

    @admin.display(description=_("asked at"), ordering="created_at")
    def asked_local(self, payment):
        return local_time(payment.created_at)

    @admin.display(description=_("answer by"), ordering="expires_at")
    def answer_by_local(self, payment):
        return local_time(payment.expires_at)

    @admin.display(description=_("answered at"), ordering="decided_at")
    def answered_local(self, payment):
        return local_time(payment.decided_at) or None
