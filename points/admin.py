import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from loyalty.admin_forms import KindFormMixin, PairsField, read_only_display, shown_fieldsets
from loyalty.admin_tools import (
    MEMBER_HEADER,
    CsvExportMixin,
    LimitedJSONAdminMixin,
    ModelAdmin,
    ReadOnlyAdminMixin,
    action_links,
    local_time,
    member_cells,
    reason,
)
from loyalty.errors import ApplicationError
from loyalty.labels import REASONS
from points import ledger
from points.models import (
    MAX_POINTS,
    CheckIn,
    EarningRule,
    ExpiryPolicy,
    PointsAccount,
    PointsEntry,
    PointsLot,
    PointsPolicy,
    PointsWithheld,
    RuleKind,
)


class AdjustForm(forms.Form):
    amount = forms.IntegerField(
        label=_("points (+ add / − deduct)"), min_value=-MAX_POINTS, max_value=MAX_POINTS
    )
    reason = forms.CharField(label=_("reason"), max_length=200, widget=forms.Textarea(attrs={"rows": 3}))
    expires_at = forms.DateTimeField(
        label=_("added points expire at"), required=False, help_text=_("Only for additions; empty: never.")
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput)

    def clean_expires_at(self):
        expires_at = self.cleaned_data["expires_at"]
        if expires_at and expires_at <= timezone.now():
            raise forms.ValidationError(_("Points cannot be added already expired."))
        return expires_at

    def clean_amount(self):
        if self.cleaned_data["amount"] == 0:
            raise forms.ValidationError(_("The amount cannot be zero."))
        return self.cleaned_data["amount"]


@admin.register(PointsAccount)
class PointsAccountAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["member", "balance", "created_at", "actions_column"]
    search_fields = ["member__phone", "member__nickname", "member__openid", "=member__id"]
    list_select_related = ["member"]
    readonly_fields = ["member", "balance", "created_at", "adjust_link"]
    show_full_result_count = False

    @admin.display(description=_("adjust"))
    def adjust_link(self, obj):
        url = reverse("admin:points_pointsaccount_adjust", args=[obj.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Adjust points"))

    def object_actions(self, account):
        return [(_("Adjust points"), reverse("admin:points_pointsaccount_adjust", args=[account.pk]))]

    @admin.display(description=_("actions"))
    def actions_column(self, account):
        return action_links(self.object_actions(account))

    def get_urls(self):
        extra = [
            path(
                "<int:pk>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="points_pointsaccount_adjust",
            )
        ]
        return extra + super().get_urls()

    def adjust_view(self, request, pk):
        """Finance only (points.adjust_points): a signed correction with a reason, never an edit."""
        if not request.user.has_perm("points.adjust_points"):
            raise PermissionDenied
        account = get_object_or_404(PointsAccount.objects.select_related("member"), pk=pk)
        form = AdjustForm(request.POST or None, initial={"idempotency_key": uuid.uuid4().hex})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                posting = ledger.points_adjust(
                    member_id=account.member_id,
                    amount=data["amount"],
                    reason=data["reason"],
                    actor_id=request.user.pk,
                    idempotency_key=f"admin:{data['idempotency_key']}",
                    expires_at=data["expires_at"],
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                if not posting.replayed:
                    self.log_change(request, account, f"adjust {data['amount']:+d}: {data['reason']}")
                messages.success(
                    request, _("Adjusted. New balance: %(balance)s") % {"balance": posting.balance_after}
                )
                return redirect("admin:points_pointsaccount_change", pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Adjust points"),
            "account": account,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/points/adjust.html", context)


@admin.register(PointsEntry)
class PointsEntryAdmin(CsvExportMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "member",
        "kind",
        "amount",
        "balance_after",
        "source",
        "reference_text",
        reason("memo", _("memo")),
        "actor",
    ]
    list_filter = ["kind", "source", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["reference", "account__member__phone", "account__member__openid", "=account__member__id"]
    list_select_related = ["account__member", "actor"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    # Not the idempotency key and request hash: machine keys, not for operators.
    fields = [
        "account",
        "kind",
        "amount",
        "balance_after",
        "source",
        "reference_text",
        "memo_text",
        "reverses",
        "actor",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("reference"), ordering="reference")
    def reference_text(self, entry):
        return entry.reference_display()

    memo_text = staticmethod(reason("memo", _("memo")))  # the list's column, on the entry's page too

    @admin.display(description=_("member"))
    def member(self, obj):
        return obj.account.member

    csv_header = [
        _("ID"),
        _("time"),
        *MEMBER_HEADER,
        _("kind"),
        _("points"),
        _("balance after"),
        _("source"),
        _("reference"),
        _("memo"),
        _("operator"),
    ]

    def csv_row(self, e) -> list:
        return [
            e.id,
            local_time(e.created_at),
            *member_cells(e.account.member),
            e.get_kind_display(),
            e.amount,
            e.balance_after,
            e.get_source_display(),
            self.reference_text(e),
            REASONS.label(e.memo),
            e.actor.username if e.actor else "",
        ]


@admin.register(PointsLot)
class PointsLotAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["id", "account", "source", "amount", "remaining", "earned_at", "expires_at"]
    list_filter = ["source", ("expires_at", admin.DateFieldListFilter)]
    search_fields = ["account__member__phone", "=account__member__id"]
    list_select_related = ["account__member"]
    show_full_result_count = False


class EarningRuleForm(KindFormMixin, forms.ModelForm):
    """A rule as an operator fills it: points per yuan for purchases, fixed points for the other kinds,
    streak bonuses as rows (day of the streak → extra points) for check-in, days for a rolling expiry."""

    streak_bonuses = PairsField(
        label=_("streak bonuses"),
        key=forms.IntegerField(min_value=1, max_value=366),
        value=forms.IntegerField(min_value=1, max_value=1_000_000),
        key_label=_("day of the streak"),
        value_label=_("extra points"),
        required=False,
        help_text=_("Extra points on that day of an unbroken run of check-ins, e.g. day 3 → 5, day 7 → 20."),
    )

    kinds = {
        "kind": {
            RuleKind.PURCHASE: ["points_per_yuan"],
            RuleKind.CHECKIN: ["points", "streak_bonuses", "streak_cycle_days"],
            # The other kinds earn fixed points per occurrence.
            **{
                kind: ["points"]
                for kind in RuleKind.values
                if kind not in (RuleKind.PURCHASE, RuleKind.CHECKIN)
            },
        },
        "expiry_policy": {
            ExpiryPolicy.ROLLING_DAYS: ["expiry_days"],
            ExpiryPolicy.END_OF_NEXT_YEAR: [],
            ExpiryPolicy.NEVER: [],
        },
    }

    class Meta:
        model = EarningRule
        fields = [
            "kind",
            "is_active",
            "points",
            "points_per_yuan",
            "streak_bonuses",
            "streak_cycle_days",
            "daily_cap",
            "monthly_cap",
            "expiry_policy",
            "expiry_days",
        ]

    def clean(self):
        data = super().clean()
        if data.get("kind") == RuleKind.PURCHASE and "points_per_yuan" not in self._errors:
            if data.get("points_per_yuan") is not None and data["points_per_yuan"] < 0:
                self.add_error("points_per_yuan", _("Points per yuan cannot be negative."))
        if data.get("expiry_policy") == ExpiryPolicy.ROLLING_DAYS and not data.get("expiry_days"):
            if "expiry_days" not in self._errors:
                self.add_error("expiry_days", _("Say after how many days the points expire."))
        cycle, bonuses = data.get("streak_cycle_days"), data.get("streak_bonuses") or {}
        if cycle and any(int(day) > cycle for day in bonuses) and "streak_bonuses" not in self._errors:
            self.add_error(
                "streak_bonuses",
                _("A bonus day is beyond the %(n)s-day cycle: it would never be reached.") % {"n": cycle},
            )
        return data


@admin.register(EarningRule)
class EarningRuleAdmin(LimitedJSONAdminMixin, ModelAdmin):
    list_display = [
        "kind",
        "is_active",
        "points",
        "points_per_yuan",
        "daily_cap",
        "monthly_cap",
        "expiry_policy",
        "expiry_days",
        "updated_at",
    ]
    list_editable = ["is_active"]
    form = EarningRuleForm
    # Where the page is only read: one line per bonus day, not a JSON object.
    read_only_displays = {
        "streak_bonuses": read_only_display(
            "streak_bonuses",
            _("streak bonuses"),
            lambda rule: "\n".join(f"{day} → +{n}" for day, n in (rule.streak_bonuses or {}).items()) or "—",
        )
    }

    def get_fieldsets(self, request, obj=None):
        return shown_fieldsets(self, request, obj, super().get_fieldsets(request, obj))


@admin.register(PointsPolicy)
class PointsPolicyAdmin(ModelAdmin):
    list_display = ["__str__", "member_daily_cap", "member_monthly_cap", "monthly_budget", "reminder_days"]

    def has_add_permission(self, request):
        return not PointsPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PointsWithheld)
class PointsWithheldAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "created_at",
        "account",
        "rule_kind",
        "requested",
        "granted",
        "withheld",
        "reason",
        "reference",
    ]
    list_filter = ["reason", "rule_kind"]
    list_select_related = ["account__member"]
    exclude = ["idempotency_key"]  # a machine key: in the database, not for operators


@admin.register(CheckIn)
class CheckInAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["day", "member", "streak", "points"]
    list_filter = [("day", admin.DateFieldListFilter)]
    search_fields = ["member__phone", "=member__id"]
    list_select_related = ["member"]
