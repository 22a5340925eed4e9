"""拼团 back office: activities (edits that cannot undo what is sold), groups with their members and
payments, and the refund report (every refunded place, why, and where WeChat Pay's refund stands)."""

from django import forms
from django.contrib import admin, messages
from django.db.models import CharField, F, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from coupons.models import CouponStatus
from growth import attribution, bargains, refunds, services
from growth.exceptions import ActivityLocked
from growth.models import (
    Bargain,
    BargainActivity,
    BargainHelp,
    BargainState,
    Group,
    GroupBuyActivity,
    GroupEvent,
    GroupMember,
    PlaceStatus,
    RefundedPlace,
)
from loyalty.admin_tools import (
    MEMBER_HEADER,
    CsvExportMixin,
    ModelAdmin,
    ReadOnlyAdminMixin,
    ReasonForm,
    TabularInline,
    action_links,
    action_page,
    local_time,
    member_cells,
    new_key,
    reason,
    rows_table,
)
from loyalty.errors import ApplicationError
from loyalty.labels import REASONS
from loyalty.money import format_fen, yuan_text
from members.models import Member
from payments.models import PaymentRefund, RefundStatus

REFUND_PERMISSION = "growth.refund_sale"


def _new_members_column(channel_of):
    """A list column: members who registered from the activity's shares (its channel)."""

    @admin.display(description=_("new members from shares"))
    def column(self, obj):
        return Member.objects.filter(registration_channel=channel_of(obj.pk)).count()

    return column


def _by_sharer(channel_of):
    """A read-only field: the new members by sharer (the referrer who shared)."""

    @admin.display(description=_("new members by sharer"))
    def field(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        rows = attribution.new_members_by_sharer(channel=channel_of(obj.pk))
        return rows_table(
            (
                row["referrer__nickname"]
                or (_("no sharer") if row["referrer_id"] is None else f"#{row['referrer_id']}"),
                row["members"],
            )
            for row in rows
        )

    return field


class ActivityForm(forms.ModelForm):
    def clean(self):
        data = super().clean()
        if self.instance.pk is not None and not self.errors:
            edited = {("item_id" if name == "item" else name): value for name, value in data.items()}
            if "item_id" in edited and edited["item_id"] is not None:
                edited["item_id"] = edited["item_id"].pk
            current = GroupBuyActivity.objects.get(pk=self.instance.pk)
            if services.activity_edit_refused(current=current, edited=edited) is not None:
                raise forms.ValidationError(ActivityLocked.default_message, code="activity_started")
        return data


@admin.register(GroupBuyActivity)
class GroupBuyActivityAdmin(ModelAdmin):
    list_display = [
        "name",
        "item",
        "group_price_fen",
        "original_price_fen",
        "group_size",
        "units",
        "groups_link",
        "new_members",
        "starts_at",
        "ends_at",
        "is_active",
    ]
    list_filter = ["is_active"]
    search_fields = ["name", "item__name"]
    autocomplete_fields = ["item"]
    readonly_fields = ["sold_count", "created_at", "by_sharer"]
    new_members = _new_members_column(attribution.group_buy_channel)
    by_sharer = _by_sharer(attribution.group_buy_channel)
    fieldsets = [
        (None, {"fields": ["name", "item", "is_active"]}),
        (
            _("price and group"),
            {"fields": ["group_price_fen", "original_price_fen", "group_size", "time_limit_minutes"]},
        ),
        (
            _("units and limits"),
            {"fields": ["stock_total", "sold_count", "per_member_limit", "new_members_only"]},
        ),
        (_("window"), {"fields": ["starts_at", "ends_at", "created_at"]}),
        (_("shares"), {"fields": ["by_sharer"]}),
    ]

    @admin.display(description=_("units taken / offered"))
    def units(self, obj):
        return f"{obj.sold_count} / {obj.stock_total}"

    @admin.display(description=_("buying groups"))
    def groups_link(self, obj):
        url = reverse("admin:growth_group_changelist") + f"?activity__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("buying groups"))

    form = ActivityForm

    def save_model(self, request, obj, form, change):
        # Through the service: a started activity keeps its price and size, and the units offered are
        # checked against those taken by the UPDATE itself (never a stale sold count written back).
        services.activity_save(activity=obj)


class PlaceInline(ReadOnlyAdminMixin, TabularInline):
    model = GroupMember
    fk_name = "group"
    extra = 0
    fields = [
        "member",
        "role",
        "status",
        "amount_fen",
        "payment_link",
        "paid_at",
        "refund_reason_text",
        "fulfilment",
        "place_actions",
    ]
    readonly_fields = fields
    ordering = ["pk"]

    @admin.display(description=_("actions"))
    def place_actions(self, obj):
        if obj.status != PlaceStatus.COMPLETED:
            return ""
        return action_links([(_("refund"), reverse("admin:growth_place_refund", args=[obj.pk]))])

    @admin.display(description=_("payment"))
    def payment_link(self, obj):
        if not obj.out_trade_no:
            return "—"
        url = reverse("admin:payments_payment_changelist") + f"?q={obj.out_trade_no}"
        return format_html('<a href="{}">{}</a>', url, obj.out_trade_no)

    @admin.display(description=_("refund reason"))
    def refund_reason_text(self, obj):
        return REASONS.label(obj.refund_reason) if obj.refund_reason else "—"

    @admin.display(description=_("fulfilment"))
    def fulfilment(self, obj):
        if obj.redemption_id:
            url = reverse("admin:mall_redemption_change", args=[obj.redemption_id])
            return format_html('<a href="{}">{}</a>', url, _("mall shipment"))
        if obj.coupon_id:
            return _("coupon #%(id)s") % {"id": obj.coupon_id}
        return "—"


class EventInline(ReadOnlyAdminMixin, TabularInline):
    model = GroupEvent
    fk_name = "group"
    extra = 0
    fields = ["created_at", "kind", "place_member", "note_text"]
    readonly_fields = fields
    ordering = ["pk"]

    @admin.display(description=_("member"))
    def place_member(self, obj):
        """Whose place the event is about (the place's own ``str`` is an id and codes)."""
        return obj.place.member if obj.place_id else "—"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("place__member")

    @admin.display(description=_("note"))
    def note_text(self, obj):
        return REASONS.label(obj.note) if obj.note else ""


@admin.register(Group)
class GroupAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["id", "activity", "leader", "state", "filled", "price_fen", "deadline", "opened_at"]
    list_filter = ["state", "activity"]
    search_fields = ["=id", "leader__nickname", "leader__phone"]
    list_select_related = ["activity", "leader"]
    inlines = [PlaceInline, EventInline]
    # Two or three to a line, and the places with their payments and refunds right under the state: on a
    # failed group that is what the page is opened for, and at 1366×768 the inlines start below the fold.
    fields = [
        ("activity", "leader"),
        ("state", "filled"),
        "places_summary",
        ("price_fen", "deadline"),
        ("opened_at", "completed_at", "failed_at"),
    ]
    readonly_fields = ["filled", "places_summary"]

    @admin.display(description=_("places and payments"))
    def places_summary(self, group):
        """Each place: who, its state, what they paid (the payment linked) and where its refund is."""
        places = list(group.places.select_related("member").order_by("pk"))
        if not places:
            return "—"
        refunds = {
            refund.payment.out_trade_no: refund
            for refund in PaymentRefund.objects.filter(
                payment__out_trade_no__in=[p.out_trade_no for p in places if p.out_trade_no]
            )
            .select_related("payment")
            .order_by("pk")
        }
        rows = []
        for place in places:
            refund = refunds.get(place.out_trade_no)
            payment = (
                format_html(
                    '<a href="{}?q={}" class="text-primary-600">{}</a>',
                    reverse("admin:payments_payment_changelist"),
                    place.out_trade_no,
                    format_fen(place.amount_fen),
                )
                if place.out_trade_no
                else format_fen(place.amount_fen)
            )
            refunded = (
                format_html(
                    '<a href="{}" class="text-primary-600">{}</a>',
                    reverse("admin:payments_paymentrefund_change", args=[refund.pk]),
                    refund.get_status_display(),
                )
                if refund
                else "—"
            )
            rows.append((place.member, place.get_status_display(), payment, refunded))
        cell = '<{0} style="padding: 2px 24px 2px 0; text-align: left">{{}}</{0}>'
        head, row = "".join([cell.format("th")] * 4), "".join([cell.format("td")] * 4)
        return format_html(
            '<table class="lo-places"><tr>' + head + "</tr>{}</table>",
            _("member"),
            _("status"),
            _("paid"),
            _("refund"),
            format_html_join("", "<tr>" + row + "</tr>", rows),
        )

    @admin.display(description=_("members joined"), ordering="joined_count")
    def filled(self, obj):
        return f"{obj.joined_count} / {obj.size}"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("place/<int:pk>/refund/", view(self.place_refund_view), name="growth_place_refund"),
        ] + super().get_urls()

    def place_refund_view(self, request, pk):
        """A completed place refunded in full (the buyer returned the goods); what it minted is undone."""
        place = get_object_or_404(GroupMember.objects.select_related("group", "member", "activity"), pk=pk)
        back = reverse("admin:growth_group_change", args=[place.group_id])
        return _refund_page(
            self,
            request,
            obj=place.group,
            title=_("Refund the place of %(member)s in group #%(group)s")
            % {"member": place.member, "group": place.group_id},
            amount_fen=place.amount_fen,
            coupon_id=place.coupon_id,
            redemption_id=place.redemption_id,
            refund=lambda reason: refunds.place_refund(
                place_id=place.pk, reason=reason, actor_id=request.user.pk
            ),
            back=back,
        )


def _refund_page(admin_view, request, *, obj, title, amount_fen, coupon_id, redemption_id, refund, back):
    """The confirmation page of an operator's refund of a sale: what it returns and undoes, in 元."""
    form = ReasonForm(request.POST or None, initial=new_key())
    if request.method == "POST" and request.user.has_perm(REFUND_PERMISSION) and form.is_valid():
        try:
            done = refund(form.cleaned_data["reason"])
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            if not done.replayed:
                admin_view.log_change(request, obj, f"refund: {form.cleaned_data['reason']}")
            messages.success(
                request,
                _("Refunded %(amount)s to the member's WeChat Pay.") % {"amount": format_fen(done.amount_fen)}
                if not done.replayed
                else _("Already refunded; nothing was done again."),
            )
            return redirect(back)
    summary = [
        _("%(amount)s goes back to the member's WeChat Pay in full; the unit returns to the activity.")
        % {"amount": format_fen(amount_fen)}
    ]
    coupon = refunds.coupon_outcome(coupon_id)
    if coupon == CouponStatus.AVAILABLE:
        summary.append(_("The coupon it issued is voided."))
    elif coupon == CouponStatus.LOCKED:
        summary.append(
            _("The coupon it issued is held by an open order: the refund waits until that order is done.")
        )
    elif coupon in (CouponStatus.USED, CouponStatus.EXPIRED):
        summary.append(
            _("The coupon it issued is %(status)s and stays so (a used coupon is not taken back).")
            % {"status": CouponStatus(coupon).label}
        )
    if redemption_id:
        summary.append(_("Its mall shipment is cancelled if it has not shipped yet."))
    summary.append(_("Group buys and bargains earn no points or growth, so none are taken back."))
    return action_page(
        admin_view,
        request,
        title=title,
        form=form,
        obj=obj,
        summary=" ".join(str(part) for part in summary),
        permission=REFUND_PERMISSION,
    )


@admin.register(RefundedPlace)
class RefundReportAdmin(CsvExportMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "refunded_at",
        "activity",
        "group",
        "member",
        "amount_fen",
        reason("refund_reason", _("refund reason")),
        "out_trade_no",
        "refund_state",
    ]
    list_filter = ["refund_reason", "activity"]
    search_fields = ["out_trade_no", "member__nickname", "member__phone"]
    list_select_related = ["activity", "group", "member"]
    date_hierarchy = "refunded_at"
    fields = [
        "activity",
        "group",
        "member",
        "role",
        "amount_fen",
        "out_trade_no",
        "refund_reason_text",
        "refund_state",
        "paid_at",
        "refunded_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("refund reason"))
    def refund_reason_text(self, obj):
        return REASONS.label(obj.refund_reason) if obj.refund_reason else "—"

    def get_queryset(self, request):
        # Where WeChat Pay's refund stands, in the same query (its number is the place's: ``GB<id>``).
        refund = PaymentRefund.objects.filter(
            out_refund_no=Concat(Value("GB"), Cast(OuterRef("pk"), CharField()))
        )
        return (
            super()
            .get_queryset(request)
            .filter(status=PlaceStatus.REFUNDED)
            .annotate(refund_status=Subquery(refund.values("status")[:1]))
            .order_by(F("refunded_at").desc())
        )

    csv_header = [
        _("refunded at"),
        _("activity"),
        _("buying group"),
        *MEMBER_HEADER,
        _("amount (元)"),
        _("refund reason"),
        _("payment number"),
        _("WeChat Pay refund"),
    ]

    @admin.display(description=_("WeChat Pay refund"))
    def refund_state(self, obj):
        return RefundStatus(obj.refund_status).label if obj.refund_status else "—"

    def csv_row(self, obj) -> list:
        return [
            local_time(obj.refunded_at),
            obj.activity.name,
            obj.group_id or "",
            *member_cells(obj.member),
            yuan_text(obj.amount_fen),
            REASONS.label(obj.refund_reason),
            obj.out_trade_no,
            RefundStatus(obj.refund_status).label if obj.refund_status else "",
        ]


# --- 砍价 -------------------------------------------------------------------------------------------


class BargainActivityForm(forms.ModelForm):
    def clean(self):
        data = super().clean()
        if self.instance.pk is not None and not self.errors:
            edited = {("item_id" if name == "item" else name): value for name, value in data.items()}
            if edited.get("item_id") is not None:
                edited["item_id"] = edited["item_id"].pk
            current = BargainActivity.objects.get(pk=self.instance.pk)
            if bargains.bargain_activity_edit_refused(current=current, edited=edited) is not None:
                raise forms.ValidationError(ActivityLocked.default_message, code="activity_started")
        return data


@admin.register(BargainActivity)
class BargainActivityAdmin(ModelAdmin):
    form = BargainActivityForm
    list_display = [
        "name",
        "item",
        "original_price_fen",
        "floor_price_fen",
        "helpers_needed",
        "units",
        "bargains_link",
        "new_members",
        "starts_at",
        "ends_at",
        "is_active",
    ]
    list_filter = ["is_active"]
    search_fields = ["name", "item__name"]
    autocomplete_fields = ["item"]
    readonly_fields = ["sold_count", "created_at", "by_sharer"]
    new_members = _new_members_column(attribution.bargain_channel)
    by_sharer = _by_sharer(attribution.bargain_channel)
    fieldsets = [
        (None, {"fields": ["name", "item", "is_active"]}),
        (
            _("prices and cuts"),
            {"fields": ["original_price_fen", "floor_price_fen", "helpers_needed", "buy_above_floor"]},
        ),
        (
            _("units and limits"),
            {
                "fields": [
                    "stock_total",
                    "sold_count",
                    "per_member_limit",
                    "helpers_must_be_new",
                    "helper_daily_limit",
                ]
            },
        ),
        (_("window"), {"fields": ["time_limit_minutes", "starts_at", "ends_at", "created_at"]}),
        (_("shares"), {"fields": ["by_sharer"]}),
    ]

    @admin.display(description=_("units taken / offered"))
    def units(self, obj):
        return f"{obj.sold_count} / {obj.stock_total}"

    @admin.display(description=_("bargains"))
    def bargains_link(self, obj):
        url = reverse("admin:growth_bargain_changelist") + f"?activity__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("bargains"))

    def save_model(self, request, obj, form, change):
        bargains.bargain_activity_save(activity=obj)


class HelpInline(ReadOnlyAdminMixin, TabularInline):
    model = BargainHelp
    extra = 0
    fields = ["seq", "helper", "cut_fen", "price_after_fen", "created_at"]
    readonly_fields = fields
    ordering = ["seq"]


@admin.register(Bargain)
class BargainAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "id",
        "activity",
        "member",
        "state",
        "price_fen",
        "floor_price_fen",
        "cut_progress",
        "deadline",
        "actions_column",
    ]
    list_filter = ["state", "activity"]
    search_fields = ["=id", "member__nickname", "member__phone", "out_trade_no"]
    list_select_related = ["activity", "member"]
    inlines = [HelpInline]
    fields = [
        "activity",
        "member",
        "state",
        "original_price_fen",
        "floor_price_fen",
        "price_fen",
        "cut_progress",
        "deadline",
        "out_trade_no",
        "paid_fen",
        "paid_at",
        "fulfilment",
        "refunded_at",
        "refund_note",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("cuts"))
    def cut_progress(self, obj):
        return f"{obj.helps_count} / {obj.helpers_needed}"

    def object_actions(self, obj):
        if obj.state != BargainState.PAID:
            return []
        return [(_("refund"), reverse("admin:growth_bargain_refund", args=[obj.pk]))]

    @admin.display(description=_("actions"))
    def actions_column(self, obj):
        return action_links(self.object_actions(obj))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/refund/", view(self.refund_view), name="growth_bargain_refund"),
        ] + super().get_urls()

    def refund_view(self, request, pk):
        """A bought bargain refunded in full (the buyer returned the goods); what it minted is undone."""
        bargain = get_object_or_404(Bargain.objects.select_related("member", "activity"), pk=pk)
        return _refund_page(
            self,
            request,
            obj=bargain,
            title=_("Refund bargain #%(id)s") % {"id": bargain.pk},
            amount_fen=bargain.paid_fen or 0,
            coupon_id=bargain.coupon_id,
            redemption_id=bargain.redemption_id,
            refund=lambda reason: refunds.bargain_refund(
                bargain_id=bargain.pk, reason=reason, actor_id=request.user.pk
            ),
            back=reverse("admin:growth_bargain_change", args=[bargain.pk]),
        )

    @admin.display(description=_("fulfilment"))
    def fulfilment(self, obj):
        if obj.redemption_id:
            url = reverse("admin:mall_redemption_change", args=[obj.redemption_id])
            return format_html('<a href="{}">{}</a>', url, _("mall shipment"))
        if obj.coupon_id:
            return _("coupon #%(id)s") % {"id": obj.coupon_id}
        return "—"
