from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from loyalty.admin_tools import (
    ModelAdmin,
    ReadOnlyAdminMixin,
    TabularInline,
    labelled_filter,
    money,
    rows_table,
)
from loyalty.labels import REASONS
from loyalty.money import format_fen
from loyalty.wechat_errors import error_in_words, wechatpay_error_label
from payments import services
from payments.models import NotificationEvent, Payment, PaymentNotification, PaymentRefund


def event_labels(events) -> dict[str, str]:
    """WeChat Pay's event types by their meaning; one added by WeChat later reads as its code."""
    known = dict(NotificationEvent.choices)
    return {event: str(known[event]) for event in events if event in known}


#: The fields of WeChat Pay's notification resource an operator looks for, by their meaning.
RESOURCE_FIELDS = [
    ("out_trade_no", _("payment number")),
    ("transaction_id", _("WeChat transaction id")),
    ("out_refund_no", _("refund number")),
    ("refund_id", _("WeChat refund id")),
    ("trade_state", _("trade state")),
    ("trade_state_desc", _("trade state description")),
    ("refund_status", _("refund status")),
    ("success_time", _("succeeded at")),
    ("amount.total", _("amount")),
    ("amount.payer_total", _("paid by the member")),
    ("amount.refund", _("refunded")),
]


class RefundInline(ReadOnlyAdminMixin, TabularInline):
    model = PaymentRefund
    fields = [
        "out_refund_no",
        "amount",
        "status",
        "reason_text",
        "refund_id",
        "attempts",
        "last_error_text",
        "created_at",
    ]
    readonly_fields = fields
    extra = 0

    @admin.display(description=_("last error"))
    def last_error_text(self, refund):
        return error_in_words(wechatpay_error_label(refund.last_error), refund.last_error)

    @admin.display(description=_("reason"))
    def reason_text(self, refund):
        return REASONS.label(refund.reason) if refund.reason else "—"

    @admin.display(description=_("amount"))
    def amount(self, refund):
        return format_fen(refund.amount_fen)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "out_trade_no",
        "member",
        "purpose",
        "reference",
        money("amount_fen", _("amount")),
        money("refunded_fen", _("refunded")),
        "status",
        "created_at",
        "paid_at",
    ]
    list_filter = ["status", "purpose", "provider", "created_at"]
    search_fields = ["out_trade_no", "transaction_id", "reference", "member__nickname", "member__phone"]
    list_select_related = ["member"]
    inlines = [RefundInline]
    exclude = ["prepay_id"]  # WeChat's token for the member's payment sheet, not for operators
    actions = ["query_provider"]

    @admin.action(description=_("Ask WeChat Pay for the state of the selected payments"))
    def query_provider(self, request, queryset):
        changed = 0
        for payment in queryset.filter(status="created")[:100]:
            try:
                changed += services.payment_query(payment=payment).status != "created"
            except Exception as exc:  # shown to the operator, the rest go on
                self.message_user(request, f"{payment.out_trade_no}: {exc}", messages.WARNING)
        self.message_user(request, _("%(n)d payment(s) changed state.") % {"n": changed})


@admin.register(PaymentRefund)
class PaymentRefundAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Finance's view of refunds: a failed one (money out of the balance, not returned by WeChat,
    e.g. the member's card was closed) is settled by hand."""

    list_display = [
        "out_refund_no",
        "payment",
        money("amount_fen", _("amount")),
        "status",
        "attempts",
        "last_error_text",
        "created_at",
        "updated_at",
    ]
    list_filter = ["status", "created_at"]
    search_fields = ["out_refund_no", "refund_id", "payment__out_trade_no"]
    list_select_related = ["payment"]
    # The reason as its label: a system reason is a code (``loyalty.labels.REASONS``), an operator's is text.
    fields = [
        "payment",
        "out_refund_no",
        "amount_fen",
        "reason_text",
        "status",
        "refund_id",
        "attempts",
        "last_error_detail",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("reason"))
    def reason_text(self, refund):
        return REASONS.label(refund.reason) if refund.reason else "—"

    @admin.display(description=_("last error"))
    def last_error_text(self, refund):
        return error_in_words(wechatpay_error_label(refund.last_error), refund.last_error)

    @admin.display(description=_("last error"))
    def last_error_detail(self, refund):
        return error_in_words(wechatpay_error_label(refund.last_error), refund.last_error, detail=True)


@admin.register(PaymentNotification)
class PaymentNotificationAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["received_at", "event", "out_trade_no"]
    list_filter = [labelled_filter("event_type", _("event"), event_labels), "received_at"]
    search_fields = ["out_trade_no", "notification_id"]
    # Not WeChat's notification id (a UUID, kept to take each notification once): found by search only.
    fields = ["received_at", "event", "out_trade_no", "resource_text"]
    readonly_fields = fields

    @admin.display(description=_("event"), ordering="event_type")
    def event(self, notification):
        return event_labels([notification.event_type]).get(notification.event_type, notification.event_type)

    @admin.display(description=_("what WeChat Pay said"))
    def resource_text(self, notification):
        """The decrypted resource's main fields by their meaning (amounts in yuan), not its JSON."""
        resource = notification.resource or {}
        rows = []
        for path, label in RESOURCE_FIELDS:
            value = resource
            for key in path.split("."):
                value = value.get(key) if isinstance(value, dict) else None
            if value not in (None, ""):
                rows.append((label, format_fen(value) if path.startswith("amount.") else value))
        return rows_table(rows)
