"""Back office for notifications: WeChat templates per reminder kind, consents and the outbox (read-only)."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from loyalty.admin_forms import PairsField, read_only_display, shown_fieldsets
from loyalty.admin_tools import (
    LimitedJSONAdminMixin,
    ModelAdmin,
    ReadOnlyAdminMixin,
    local_time,
    rows_table,
)
from loyalty.wechat_errors import error_in_words, wechat_error_label
from notifications import wechat
from notifications.models import SubscribeConsent, WechatDelivery, WechatTemplate


class WechatTemplateForm(forms.ModelForm):
    """The keyword mapping as rows (a template keyword, the text that fills it), not a JSON object."""

    field_map = PairsField(
        label=_("field mapping"),
        key=forms.CharField(max_length=32),
        value=forms.CharField(max_length=200),
        key_label=_("template keyword"),
        value_label=_("text"),
        help_text=_(
            "One row per keyword of the template in the mini-program console (thing1, number2, date3 …). "
            "The text may hold {title}, {body} or any value the reminder carries, e.g. {points} or {count}; "
            "{expires_at|date} reads 2026年11月18日 and {expires_at|datetime} adds the time."
        ),
        error_messages={"required": _("Map at least one keyword of the template.")},
    )

    class Meta:
        model = WechatTemplate
        fields = ["kind", "template_id", "page", "field_map", "is_active"]

    def clean_field_map(self):
        """Checked here, before WeChat would refuse every message of the template with 47003."""
        value = self.cleaned_data["field_map"]
        problems = wechat.check_fields(value)
        if problems:
            raise forms.ValidationError(problems)
        return value


@admin.register(WechatTemplate)
class WechatTemplateAdmin(LimitedJSONAdminMixin, ModelAdmin):
    form = WechatTemplateForm
    list_display = ["kind", "template_id", "page", "is_active", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["kind", "template_id"]
    # Where the page is only read: one line per keyword, not a JSON object.
    read_only_displays = {
        "field_map": read_only_display(
            "field_map",
            _("field mapping"),
            lambda t: "\n".join(f"{k} → {v}" for k, v in (t.field_map or {}).items()) or "—",
        )
    }

    def get_fieldsets(self, request, obj=None):
        return shown_fieldsets(self, request, obj, super().get_fieldsets(request, obj))


@admin.register(SubscribeConsent)
class SubscribeConsentAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["id", "member", "template_id", "result", "created_at", "spent_at"]
    list_filter = ["result", ("spent_at", admin.EmptyFieldListFilter)]
    search_fields = ["=member__id", "template_id"]
    raw_id_fields = ["member"]
    list_select_related = ["member"]
    show_full_result_count = False


def _wechat_said(delivery) -> str:
    """WeChat's answer as it came: its errcode and errmsg (nothing for a message sent, or not tried yet)."""
    if not delivery.errcode:
        return delivery.error
    return f"{delivery.errcode} {delivery.error}".strip()


class WechatErrorFilter(admin.SimpleListFilter):
    """The errcodes the deliveries met, by their meaning."""

    title = _("WeChat's answer")
    parameter_name = "errcode"

    def lookups(self, request, model_admin):
        codes = (
            model_admin.get_queryset(request)
            .exclude(errcode__isnull=True)
            .exclude(errcode=0)
            .order_by("errcode")
            .values_list("errcode", flat=True)
            .distinct()
        )
        return [(str(code), wechat_error_label(code) or str(code)) for code in codes]

    def queryset(self, request, queryset):
        if self.value() and self.value().lstrip("-").isdigit():
            return queryset.filter(errcode=int(self.value()))
        return queryset


@admin.register(WechatDelivery)
class WechatDeliveryAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "id",
        "member",
        "kind",
        "template_id",
        "status",
        "attempts",
        "error_text",
        "created",
    ]
    list_filter = ["status", "kind", WechatErrorFilter]
    search_fields = ["=member__id", "dedupe_key", "template_id"]
    raw_id_fields = ["member", "consent"]
    list_select_related = ["member"]
    show_full_result_count = False
    # the key is the machine's; the data shows as a table (data_text), WeChat's error in words (error_detail)
    exclude = ["dedupe_key", "data", "errcode", "error"]
    readonly_fields = ["data_text", "error_detail"]

    def get_fields(self, request, obj=None):
        """WeChat's answer right under the status: why a message failed is what its page is opened for."""
        fields = [f for f in super().get_fields(request, obj) if f != "error_detail"]
        at = fields.index("status") + 1 if "status" in fields else len(fields)
        return [*fields[:at], "error_detail", *fields[at:]]

    @admin.display(description=_("WeChat's answer"), ordering="errcode")
    def error_text(self, delivery):
        return error_in_words(wechat_error_label(delivery.errcode), _wechat_said(delivery))

    @admin.display(description=_("WeChat's answer"))
    def error_detail(self, delivery):
        return error_in_words(wechat_error_label(delivery.errcode), _wechat_said(delivery), detail=True)

    @admin.display(description=_("data"))
    def data_text(self, delivery):
        """The message's template keywords and their texts (``{"thing1": {"value": "…"}}`` as sent)."""
        if not isinstance(delivery.data, dict):
            return "—"
        return rows_table(
            (keyword, value.get("value", "") if isinstance(value, dict) else value)
            for keyword, value in sorted(delivery.data.items())
        )

    @admin.display(description=_("created at"), ordering="created_at")
    def created(self, obj):
        return local_time(obj.created_at)
