from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from loyalty.admin_tools import ModelAdmin, ReadOnlyAdminMixin, TabularInline, money
from loyalty.money import format_fen
from payments import services
from payments.models import Payment, PaymentNotification, PaymentRefund


class RefundInline(ReadOnlyAdminMixin, TabularInline):
    model = PaymentRefund
    fields = [
        "out_refund_no",
        "amount",
        "status",
        "reason",
        "refund_id",
        "attempts",
        "last_error",
        "created_at",
    ]
    readonly_fields = fields
    extra = 0

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
        "last_error",
        "created_at",
        "updated_at",
    ]
    list_filter = ["status", "created_at"]
    search_fields = ["out_refund_no", "refund_id", "payment__out_trade_no"]
    list_select_related = ["payment"]


@admin.register(PaymentNotification)
class PaymentNotificationAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["received_at", "event_type", "out_trade_no", "notification_id"]
    list_filter = ["event_type", "received_at"]
    search_fields = ["out_trade_no", "notification_id"]
