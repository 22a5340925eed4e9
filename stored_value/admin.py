"""Back office for stored value: plans, recharges, accounts, the read-only ledger and the liability report.

Operators change balances only through the actions here — adjust (finance)
and freeze (customer service) — each behind its own permission, each with a
reason, each leaving an entry or an event with the operator and an admin log
line.  (Refunding a recharge, the finance action that sends money back,
arrives with the payments app.)
"""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.admin_forms import KindFormMixin
from loyalty.admin_tools import (
    MEMBER_HEADER,
    CsvExportMixin,
    IsoDateInput,
    ModelAdmin,
    ReadOnlyAdminMixin,
    ReasonForm,
    TabularInline,
    action_links,
    action_page,
    in_yuan,
    local_time,
    member_cells,
    money,
    new_key,
    reason,
    this_week_filter,
)
from loyalty.db_router import replica_readable
from loyalty.errors import ApplicationError
from loyalty.labels import REASONS
from loyalty.money import YuanField, format_fen, signed_fen, yuan_text
from loyalty.spreadsheets import stream_csv
from stored_value import ledger, recharges, selectors, services
from stored_value.models import (
    MAX_FEN,
    FreezeEvent,
    PlanKind,
    RechargeOrder,
    RechargePlan,
    RechargeStatus,
    RechargeTier,
    StoredValueAccount,
    StoredValueEntry,
    StoredValuePolicy,
)
from stores.scoping import StoreScopedAdminMixin

# --- operator actions ----------------------------------------------------------------


class AdjustForm(ReasonForm):
    principal_fen = YuanField(
        label=_("principal (+ add / − deduct)"), min_value=-MAX_FEN, max_value=MAX_FEN, initial=0
    )
    bonus_fen = YuanField(
        label=_("bonus (+ add / − deduct)"), min_value=-MAX_FEN, max_value=MAX_FEN, initial=0
    )
    field_order = ["principal_fen", "bonus_fen", "reason"]

    def clean(self):
        data = super().clean()
        if data.get("principal_fen") == 0 and data.get("bonus_fen") == 0:
            raise forms.ValidationError(_("Enter an amount for principal or bonus."))
        return data


# --- accounts, with adjust / freeze and the liability report ---------------------------------


@admin.register(StoredValueAccount)
class StoredValueAccountAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "member",
        money("principal_fen", _("principal")),
        money("bonus_fen", _("bonus")),
        "frozen",
        "actions_column",
    ]
    list_filter = ["frozen"]
    search_fields = ["member__nickname", "member__phone", "=member__id"]
    list_select_related = ["member"]
    change_list_template = "admin/stored_value/storedvalueaccount/change_list.html"

    def object_actions(self, account):
        return [
            (_("adjust"), reverse("admin:stored_value_storedvalueaccount_adjust", args=[account.pk])),
            (
                _("unfreeze") if account.frozen else _("freeze"),
                reverse("admin:stored_value_storedvalueaccount_freeze", args=[account.pk]),
            ),
        ]

    @admin.display(description=_("actions"))
    def actions_column(self, account):
        return action_links(self.object_actions(account))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/adjust/", view(self.adjust_view), name="stored_value_storedvalueaccount_adjust"),
            path("<int:pk>/freeze/", view(self.freeze_view), name="stored_value_storedvalueaccount_freeze"),
            path("liability/", view(self.liability_view), name="stored_value_liability"),
        ] + super().get_urls()

    def _account(self, pk):
        return get_object_or_404(StoredValueAccount.objects.select_related("member"), pk=pk)

    def adjust_view(self, request, pk):
        """Finance only: a correction of either part with a reason, posted as an ``adjust`` entry."""
        account = self._account(pk)
        form = AdjustForm(request.POST or None, initial=new_key())
        if (
            request.method == "POST"
            and request.user.has_perm("stored_value.adjust_stored_value")
            and form.is_valid()
        ):
            data = form.cleaned_data
            try:
                posting = ledger.stored_value_adjust(
                    member_id=account.member_id,
                    principal_fen=data["principal_fen"],
                    bonus_fen=data["bonus_fen"],
                    reason=data["reason"],
                    actor_id=request.user.pk,
                    idempotency_key=f"admin:{data['idempotency_key']}",
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                if not posting.replayed:
                    self.log_change(
                        request,
                        account,
                        f"adjust principal {signed_fen(data['principal_fen'])} bonus {signed_fen(data['bonus_fen'])}: {data['reason']}",
                    )
                messages.success(
                    request,
                    _("Adjusted. New balance: %(balance)s")
                    % {"balance": format_fen(posting.balance_after_fen)},
                )
                return redirect("admin:stored_value_storedvalueaccount_changelist")
        return action_page(
            self,
            request,
            title=_("Adjust stored value"),
            form=form,
            obj=account,
            summary=_("Principal %(principal)s, bonus %(bonus)s.")
            % {"principal": format_fen(account.principal_fen), "bonus": format_fen(account.bonus_fen)},
            permission="stored_value.adjust_stored_value",
        )

    def freeze_view(self, request, pk):
        """Customer service: freeze (no spending) or unfreeze, with a reason kept as a freeze event."""
        account = self._account(pk)
        form = ReasonForm(request.POST or None, initial=new_key())
        if (
            request.method == "POST"
            and request.user.has_perm("stored_value.freeze_stored_value")
            and form.is_valid()
        ):
            reason = form.cleaned_data["reason"]
            services.stored_value_set_frozen(
                member_id=account.member_id,
                frozen=not account.frozen,
                reason=reason,
                actor_id=request.user.pk,
            )
            self.log_change(request, account, f"{'unfreeze' if account.frozen else 'freeze'}: {reason}")
            messages.success(request, _("Unfrozen.") if account.frozen else _("Frozen."))
            return redirect("admin:stored_value_storedvalueaccount_changelist")
        return action_page(
            self,
            request,
            title=_("Unfreeze the account") if account.frozen else _("Freeze the account"),
            form=form,
            obj=account,
            summary=account.frozen_reason,
            permission="stored_value.freeze_stored_value",
        )

    @replica_readable
    def liability_view(self, request):
        """What the merchant owes its members, principal and bonus, at the end of each day."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.localdate()
        form = LiabilityRangeForm(
            request.GET or None, initial={"start": today - timedelta(days=29), "end": today}
        )
        start, end = (
            (form.cleaned_data["start"], form.cleaned_data["end"])
            if form.is_valid()
            else (
                today - timedelta(days=29),
                today,
            )
        )
        rows = selectors.liability_by_day(start=start, end=end)
        if request.GET.get("format") == "csv":
            return stream_csv(
                filename=f"{_('Stored-value liability')}_{start}_{end}.csv",
                header=[_("day"), in_yuan(_("principal")), in_yuan(_("bonus")), in_yuan(_("total"))],
                rows=(
                    [
                        r["day"],
                        yuan_text(r["principal_fen"]),
                        yuan_text(r["bonus_fen"]),
                        yuan_text(r["principal_fen"] + r["bonus_fen"]),
                    ]
                    for r in rows
                ),
            )
        latest = rows[-1] if rows else {"principal_fen": 0, "bonus_fen": 0}
        context = {
            **self.admin_site.each_context(request),
            "title": _("Stored-value liability"),
            "opts": self.model._meta,
            "form": form,
            "rows": [
                {
                    **r,
                    "principal": format_fen(r["principal_fen"]),
                    "bonus": format_fen(r["bonus_fen"]),
                    "total": format_fen(r["principal_fen"] + r["bonus_fen"]),
                }
                for r in rows
            ],
            "chart": {
                "labels": [r["day"].isoformat() for r in rows],
                "principal": [r["principal_fen"] / 100 for r in rows],
                "bonus": [r["bonus_fen"] / 100 for r in rows],
            },
            "latest": {
                "principal": format_fen(latest["principal_fen"]),
                "bonus": format_fen(latest["bonus_fen"]),
                "total": format_fen(latest["principal_fen"] + latest["bonus_fen"]),
            },
        }
        return TemplateResponse(request, "admin/stored_value/liability.html", context)


class LiabilityRangeForm(forms.Form):
    start = forms.DateField(label=_("from"), widget=IsoDateInput())
    end = forms.DateField(label=_("to"), widget=IsoDateInput())

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end"):
            if data["start"] > data["end"]:
                raise forms.ValidationError(_("The start is after the end."))
            if (data["end"] - data["start"]).days > 366 * 3:
                raise forms.ValidationError(_("Choose at most three years."))
        return data


# --- the ledger ------------------------------------------------------------------------------


@admin.register(StoredValueEntry)
class StoredValueEntryAdmin(CsvExportMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "account",
        "kind",
        money("principal_fen", _("principal part")),
        money("bonus_fen", _("bonus part")),
        money("principal_after_fen", _("principal after")),
        money("bonus_after_fen", _("bonus after")),
        "reference",
        reason("memo", _("memo")),
        "actor",
    ]
    list_filter = ["kind", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=account__member__id", "reference", "account__member__nickname"]
    list_select_related = ["account__member", "actor"]
    exclude = ["idempotency_key", "request_hash"]  # machine keys, not for operators
    csv_header = [
        _("ID"),
        _("time"),
        *MEMBER_HEADER,
        _("kind"),
        in_yuan(_("principal part")),
        in_yuan(_("bonus part")),
        in_yuan(_("principal after")),
        in_yuan(_("bonus after")),
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
            yuan_text(e.principal_fen),
            yuan_text(e.bonus_fen),
            yuan_text(e.principal_after_fen),
            yuan_text(e.bonus_after_fen),
            e.reference,
            REASONS.label(e.memo),
            e.actor.username if e.actor else "",
        ]


@admin.register(FreezeEvent)
class FreezeEventAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["created_at", "account", "frozen", "reason", "actor"]
    list_filter = ["frozen"]
    list_select_related = ["account__member", "actor"]


# --- plans and recharges -----------------------------------------------------------------------


class RechargePlanForm(KindFormMixin, forms.ModelForm):
    """A plan as an operator fills it: its tiers (a tiers plan), its ratio (a ratio plan) or neither."""

    kinds = {
        "kind": {PlanKind.TIERS: [], PlanKind.RATIO: ["ratio_pay", "ratio_bonus"], PlanKind.OPEN: []},
    }
    kind_blocks = {"kind": {PlanKind.TIERS: ["tiers-group"], PlanKind.RATIO: [], PlanKind.OPEN: []}}

    class Meta:
        model = RechargePlan
        fields = [
            "name",
            "kind",
            "is_active",
            "sort_order",
            "min_fen",
            "max_fen",
            "ratio_pay",
            "ratio_bonus",
            "gift_points",
            "gift_pack",
            "first_recharge_only",
            "max_uses_per_member",
            "starts_at",
            "ends_at",
        ]
        help_texts = {
            "ratio_pay": _("充10送1: pay 10, bonus 1 (the bonus is rounded down to the fen)."),
        }

    def clean(self):
        data = super().clean()
        if data.get("kind") == PlanKind.RATIO:
            for name in ("ratio_pay", "ratio_bonus"):
                if name not in self._errors and not data.get(name):
                    self.add_error(name, _("A ratio plan gives a bonus for what is paid, e.g. 充10送1."))
        low, high = data.get("min_fen"), data.get("max_fen")
        if low is not None and high is not None and "max_fen" not in self._errors:
            if low < 1:
                self.add_error("min_fen", _("The minimum is at least ¥0.01."))
            elif high < low:
                self.add_error("max_fen", _("The maximum is below the minimum."))
        if data.get("starts_at") and data.get("ends_at") and data["starts_at"] >= data["ends_at"]:
            self.add_error("ends_at", _("The end must come after the start."))
        return data


class RechargeTierFormSet(forms.BaseInlineFormSet):
    """Tiers belong to a tiers plan, which needs at least one (the plan's kind is the one just posted)."""

    def clean(self):
        super().clean()
        rows = [
            f for f in self.forms if getattr(f, "cleaned_data", None) and not f.cleaned_data.get("DELETE")
        ]
        if self.instance.kind == PlanKind.TIERS and not rows:
            raise forms.ValidationError(_("A tiers plan needs at least one tier, e.g. 充1500送150."))
        if self.instance.kind != PlanKind.TIERS and rows:
            raise forms.ValidationError(
                _("Only a tiers plan has tiers: delete them, or make the plan a tiers plan.")
            )


class RechargeTierInline(TabularInline):
    model = RechargeTier
    formset = RechargeTierFormSet
    extra = 1


@admin.register(RechargePlan)
class RechargePlanAdmin(ModelAdmin):
    list_display = [
        "name",
        "kind",
        money("min_fen", _("minimum")),
        money("max_fen", _("maximum")),
        "tiers_column",
        "gift_points",
        "first_recharge_only",
        "starts_at",
        "ends_at",
        "is_active",
        "sort_order",
    ]
    list_editable = ["is_active", "sort_order"]
    list_filter = ["kind", "is_active", this_week_filter("starts_at", "ends_at")]
    inlines = [RechargeTierInline]
    form = RechargePlanForm
    fieldsets = [
        (None, {"fields": ["name", "kind", "is_active", "sort_order"]}),
        (_("Amount and bonus"), {"fields": ["min_fen", "max_fen", "ratio_pay", "ratio_bonus"]}),
        (_("Gifts"), {"fields": ["gift_points", "gift_pack"]}),
        (
            _("Limits and dates"),
            {"fields": ["first_recharge_only", "max_uses_per_member", "starts_at", "ends_at"]},
        ),
    ]

    @admin.display(description=_("tiers"))
    def tiers_column(self, plan):
        return ", ".join(str(tier) for tier in plan.tiers.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tiers")


@admin.register(RechargeOrder)
class RechargeOrderAdmin(StoreScopedAdminMixin, CsvExportMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "member",
        "plan",
        money("amount_fen", _("amount paid")),
        money("bonus_fen", _("bonus")),
        "gift_points",
        "status",
        money("refunded_fen", _("principal refunded")),
        money("forfeited_bonus_fen", _("bonus forfeited")),
        "out_trade_no",
        "store",
        "staff",
        "refund_column",
    ]
    list_filter = ["status", "plan", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=id", "out_trade_no", "=member__id", "member__nickname"]
    list_select_related = ["member", "plan", "store", "staff"]
    csv_header = [
        _("ID"),
        _("created at"),
        *MEMBER_HEADER,
        _("plan"),
        in_yuan(_("amount paid")),
        in_yuan(_("bonus")),
        _("gift points"),
        _("status"),
        _("payment number"),
        _("credited at"),
        in_yuan(_("principal refunded")),
        in_yuan(_("bonus forfeited")),
        _("refunded at"),
        _("store"),
        _("staff"),
    ]

    def csv_row(self, o) -> list:
        return [
            o.id,
            local_time(o.created_at),
            *member_cells(o.member),
            o.plan.name,
            yuan_text(o.amount_fen),
            yuan_text(o.bonus_fen),
            o.gift_points,
            o.get_status_display(),
            o.out_trade_no,
            local_time(o.credited_at),
            yuan_text(o.refunded_fen),
            yuan_text(o.forfeited_bonus_fen),
            local_time(o.refunded_at),
            o.store.name if o.store_id else "",
            str(o.staff) if o.staff_id else "",
        ]

    def object_actions(self, order):
        if order.status not in (RechargeStatus.CREDITED, RechargeStatus.REFUNDED):
            return []
        return [(_("refund"), reverse("admin:stored_value_rechargeorder_refund", args=[order.pk]))]

    @admin.display(description=_("actions"))
    def refund_column(self, order):
        return action_links(self.object_actions(order))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/refund/", view(self.refund_view), name="stored_value_rechargeorder_refund"),
        ] + super().get_urls()

    def refund_view(self, request, pk):
        """Finance only: refund the unspent principal of this recharge and forfeit its unspent bonus."""
        order = get_object_or_404(RechargeOrder.objects.select_related("member"), pk=pk)
        form = ReasonForm(request.POST or None, initial=new_key())
        if (
            request.method == "POST"
            and request.user.has_perm("stored_value.refund_recharge")
            and form.is_valid()
        ):
            try:
                order = recharges.recharge_refund(
                    order_id=order.pk,
                    actor_id=request.user.pk,
                    reason=form.cleaned_data["reason"],
                    idempotency_key=f"admin:{form.cleaned_data['idempotency_key']}",
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.log_change(request, order, f"refund: {form.cleaned_data['reason']}")
                messages.success(
                    request,
                    _("Refunded %(principal)s to the member's WeChat Pay; %(bonus)s of bonus forfeited.")
                    % {
                        "principal": format_fen(order.refunded_fen),
                        "bonus": format_fen(order.forfeited_bonus_fen),
                    },
                )
                return redirect("admin:stored_value_rechargeorder_changelist")
        with transaction.atomic():
            principal_now, bonus_now, _frozen = ledger.lock_account(member_id=order.member_id)
            principal, bonus = recharges.recharge_refundable(
                order=order, principal_fen=principal_now, bonus_fen=bonus_now
            )
        gift_points, whole = recharges.recharge_gifts_taken_back(order=order, principal_fen=principal)
        summary = [
            _("Refundable now: principal %(principal)s back to WeChat Pay; bonus %(bonus)s forfeited.")
            % {"principal": format_fen(principal), "bonus": format_fen(bonus)},
            _("Gift points taken back: %(points)s.") % {"points": gift_points},
        ]
        if whole and principal and order.plan.gift_pack_id:
            summary.append(
                _(
                    "All of the principal is refunded: the plan's gift pack is taken back too (unused coupons voided, its points clawed back)."
                )
            )
        return action_page(
            self,
            request,
            title=_("Refund recharge #%(id)s") % {"id": order.pk},
            form=form,
            obj=order,
            summary=" ".join(str(part) for part in summary),
            permission="stored_value.refund_recharge",
        )


@admin.register(StoredValuePolicy)
class StoredValuePolicyAdmin(ModelAdmin):
    list_display = [
        "__str__",
        "spend_order",
        money("balance_cap_fen", _("balance cap")),
        "recharge_timeout_minutes",
    ]

    def has_add_permission(self, request):
        return not StoredValuePolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
