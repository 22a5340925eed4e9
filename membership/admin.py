"""The membership programme's back office: tiers, policy, growth, cards, purchases, member days."""

import base64

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import F, Func, Value
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from coupons.forms import AudienceForm, audience_column, audience_display
from loyalty.admin_forms import KindFormMixin, read_only_display, shown_fieldsets
from loyalty.admin_tools import (
    MEMBER_HEADER,
    CsvExportMixin,
    LimitedJSONAdminMixin,
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
    multiplier,
    new_key,
    reason,
    this_week_filter,
)
from loyalty.errors import ApplicationError
from loyalty.money import YuanField, format_fen, format_zhe, yuan_text
from members.admin import channel_column, channel_filter
from members.models import Channel, Member
from members.selectors import channel_name_of
from membership import cards
from membership.claim_links import claim_link, claim_qr_png
from membership.models import (
    CardCondition,
    CardEvent,
    CardKind,
    CardPurchase,
    CardSource,
    CardType,
    CardValidity,
    GrowthEntry,
    MemberDay,
    MemberDayRun,
    Membership,
    MembershipCard,
    MembershipPolicy,
    Tier,
    TierChange,
)
from stores.scoping import StoreScopedAdminMixin

# --- membership back office ------------------------------------------------------------------


@admin.register(Tier)
class TierAdmin(ModelAdmin):
    list_display = [
        "level",
        "name",
        "growth_threshold",
        "discount_bp",
        multiplier("points_multiplier", _("points multiplier")),
        "free_shipping",
        "birthday_pack",
        "upgrade_pack",
    ]
    list_display_links = ["level", "name"]

    def has_delete_permission(self, request, obj=None):
        # Members hold tiers by level: a level with members must stay (change its name or terms instead).
        if obj is not None and Membership.objects.filter(tier_level=obj.level).exists():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(MembershipPolicy)
class MembershipPolicyAdmin(ModelAdmin):
    list_display = [
        "__str__",
        "window_months",
        "protection_days",
        "downgrade_period_days",
        "birthday_mode",
        "new_member_pack",
    ]

    def has_add_permission(self, request):
        return not MembershipPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "member",
        "tier_level",
        "growth_total",
        money("paid_total_fen", _("cumulative paid spend")),
        "completed_orders",
        "tier_changed_at",
        "protected_until",
    ]
    list_filter = ["tier_level"]
    search_fields = ["=member__id", "member__nickname", "member__phone"]
    list_select_related = ["member"]
    show_full_result_count = False


@admin.register(GrowthEntry)
class GrowthEntryAdmin(CsvExportMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "created_at",
        "member",
        "kind",
        "amount",
        money("paid_fen", _("paid")),
        "order_no",
        "counts_at",
    ]
    list_filter = ["kind", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=member__id", "order_no"]
    list_select_related = ["member"]
    show_full_result_count = False
    exclude = ["idempotency_key"]  # a machine key: in the database, not for operators
    csv_header = [
        _("ID"),
        _("time"),
        *MEMBER_HEADER,
        _("kind"),
        _("growth value"),
        in_yuan(_("amount paid")),
        _("order number"),
        _("counts at"),
    ]

    def csv_row(self, e) -> list:
        return [
            e.pk,
            local_time(e.created_at),
            *member_cells(e.member),
            e.get_kind_display(),
            e.amount,
            yuan_text(e.paid_fen),
            e.order_no,
            local_time(e.counts_at),
        ]


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["created_at", "member", "from_level", "to_level", "reason", "window_growth"]
    list_filter = ["reason", "to_level", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=member__id", "member__nickname", "member__phone"]
    list_select_related = ["member"]
    show_full_result_count = False


class PosterForm(forms.Form):
    channel = forms.CharField(
        label=_("channel"),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"list": "poster-channels"}),
        help_text=_("A named channel (渠道), or a new code to name later."),
    )
    staff = forms.CharField(label=_("staff"), max_length=64, required=False)


def _threshold(card_type):
    if card_type.condition == CardCondition.PAID_SPEND:
        return format_fen(card_type.condition_threshold)
    return card_type.condition_threshold


class CardTypeForm(KindFormMixin, forms.ModelForm):
    """A card type as an operator fills it: only what its kind, condition and validity need.  A spend
    condition is typed in yuan (its own field); an orders or points condition is a count."""

    spend_threshold = YuanField(
        label=_("threshold: paid spend"),
        required=False,
        help_text=_("For the paid-spend condition: the cumulative paid spend that earns the card."),
    )

    kinds = {
        "kind": {
            CardKind.FREE: [],
            CardKind.CONDITIONAL: ["condition"],
            CardKind.PAID: ["period", "price_fen", "trial_days"],
        },
        "condition": {
            "": [],
            CardCondition.PAID_SPEND: ["spend_threshold"],
            CardCondition.ORDERS: ["condition_threshold"],
            CardCondition.POINTS_EARNED: ["condition_threshold"],
        },
        "validity": {
            CardValidity.PERMANENT: [],
            CardValidity.DAYS: ["valid_days"],
            CardValidity.RANGE: ["valid_from", "valid_until"],
        },
    }

    class Meta:
        model = CardType
        fields = ["condition", "condition_threshold"]  # the admin adds the rest from its fieldsets
        labels = {"condition_threshold": _("threshold: orders or points")}
        help_texts = {"condition_threshold": _("For the orders or points condition: how many.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "condition_threshold" not in self.fields:
            return  # a page the operator may only view
        if self.instance.condition == CardCondition.PAID_SPEND:
            self.initial["spend_threshold"] = self.instance.condition_threshold
            self.initial["condition_threshold"] = None

    def clean(self):
        data = super().clean()
        errors = self._errors
        condition = data.get("condition")
        if data.get("kind") == CardKind.CONDITIONAL and not condition and "condition" not in errors:
            self.add_error("condition", _("A conditional card needs its condition."))
        if condition == CardCondition.PAID_SPEND:
            if not data.get("spend_threshold") and "spend_threshold" not in errors:
                self.add_error("spend_threshold", _("Set the paid spend that earns the card."))
            data["condition_threshold"] = data.get("spend_threshold") or 0
        else:
            if condition and not data.get("condition_threshold") and "condition_threshold" not in errors:
                self.add_error("condition_threshold", _("Set how many orders or points earn the card."))
            if data.get("condition_threshold") is None:
                data["condition_threshold"] = 0
        if data.get("kind") == CardKind.PAID and not data.get("price_fen") and "price_fen" not in errors:
            self.add_error("price_fen", _("A paid card needs its price."))
        if data.get("validity") == CardValidity.RANGE and "valid_until" not in errors:
            if not data.get("valid_from") or not data.get("valid_until"):
                self.add_error(
                    "valid_until", _("A card valid for a date range needs its first and last day.")
                )
            elif data["valid_from"] >= data["valid_until"]:
                self.add_error("valid_until", _("The end must come after the start."))
        if data.get("validity") == CardValidity.DAYS and data.get("valid_days") == 0:
            self.add_error("valid_days", _("Valid for at least one day."))
        return data


@admin.register(CardType)
class CardTypeAdmin(ModelAdmin):
    formfield_overrides = {models.URLField: {"form_class": forms.URLField, "assume_scheme": "https"}}
    form = CardTypeForm
    list_display = [
        "name",
        "kind",
        "validity",
        "price_display",
        "discount_bp",
        "free_shipping",
        "holders",
        "is_active",
        "links",
    ]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "description", "is_active", "available_from", "available_until"]}),
        (_("Validity"), {"fields": ["validity", "valid_days", "valid_from", "valid_until"]}),
        (
            _("Condition (conditional cards)"),
            {"fields": ["condition", "spend_threshold", "condition_threshold"]},
        ),
        (_("Price (paid cards)"), {"fields": ["period", "price_fen", "trial_days"]}),
        (
            _("Benefits"),
            {"fields": ["discount_bp", "free_shipping", "points_multiplier", "opening_pack", "monthly_pack"]},
        ),
        (_("Card face"), {"fields": ["background_image", "colour", "logo_url"]}),
    ]
    # Where the card type is only viewed, its threshold reads in its own unit (¥ or a count).
    read_only_displays = {
        name: read_only_display("threshold", _("condition threshold"), _threshold)
        for name in ("spend_threshold", "condition_threshold")
    }

    def get_fieldsets(self, request, obj=None):
        return shown_fieldsets(self, request, obj, super().get_fieldsets(request, obj))

    @admin.display(description=_("price"))
    def price_display(self, card_type):
        return format_fen(card_type.price_fen) if card_type.kind == "paid" else "—"

    @admin.display(description=_("holders"))
    def holders(self, card_type):
        return card_type.cards.filter(status="active").count()

    @admin.display(description=_("claim QR / poster"))
    def links(self, card_type):
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("admin:membership_cardtype_qr", args=[card_type.pk]),
            _("QR code"),
            reverse("admin:membership_cardtype_poster", args=[card_type.pk]),
            _("poster"),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/qr.png", view(self.qr_view), name="membership_cardtype_qr"),
            path("<int:pk>/poster/", view(self.poster_view), name="membership_cardtype_poster"),
        ] + super().get_urls()

    def _tagged(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        card_type = get_object_or_404(CardType, pk=pk)
        form = PosterForm(request.GET or None)
        tags = form.cleaned_data if form.is_valid() else {"channel": "", "staff": ""}
        return card_type, form, tags

    def qr_view(self, request, pk):
        """The claim QR as a PNG download, carrying the channel / staff tags given in the query."""
        card_type, _form, tags = self._tagged(request, pk)
        png = claim_qr_png(card_type_id=card_type.pk, **tags)
        response = HttpResponse(png, content_type="image/png")
        suffix = "-".join(filter(None, [tags["channel"], tags["staff"]]))
        response["Content-Disposition"] = (
            f'attachment; filename="card-{card_type.pk}{"-" + suffix if suffix else ""}.png"'
        )
        return response

    def poster_view(self, request, pk):
        """A printable poster (print CSS) with the card face and its tagged claim QR embedded."""
        card_type, form, tags = self._tagged(request, pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Poster: %(name)s") % {"name": card_type.name},
            "card_type": card_type,
            "form": form,
            "tags": tags,
            "claim_link": claim_link(card_type_id=card_type.pk, **tags),
            "qr": "data:image/png;base64,"
            + base64.b64encode(claim_qr_png(card_type_id=card_type.pk, **tags)).decode(),
            "price": format_fen(card_type.price_fen) if card_type.kind == "paid" else "",
            "discount": format_zhe(card_type.discount_bp, scale=10_000) if card_type.discount_bp else "",
            "channels": Channel.objects.filter(is_active=True),
        }
        return TemplateResponse(request, "admin/membership/cardtype/poster.html", context)


class GrantForm(forms.Form):
    member_id = forms.IntegerField(label=_("member id"), min_value=1)
    card_type = forms.ModelChoiceField(label=_("card type"), queryset=CardType.objects.all())
    reason = forms.CharField(label=_("reason"), max_length=200, widget=forms.Textarea(attrs={"rows": 3}))
    idempotency_key = forms.CharField(widget=forms.HiddenInput)


@admin.register(MembershipCard)
class MembershipCardAdmin(StoreScopedAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "id",
        "member",
        "card_type",
        "status",
        "source",
        "valid_from",
        "valid_until",
        "channel_text",
        "store",
        "staff",
        "revoke_column",
    ]
    list_filter = ["status", "source", "card_type", channel_filter("channel", _("channel"))]
    search_fields = ["=member__id", "member__nickname", "member__phone", "staff"]
    list_select_related = ["member", "card_type", "store"]
    show_full_result_count = False
    change_list_template = "admin/membership/membershipcard/change_list.html"
    exclude = ["channel"]  # its code; the detail page shows its name (channel_text)
    readonly_fields = ["channel_text"]
    channel_text = channel_column("channel", _("channel"))

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(channel_name=channel_name_of("channel"))

    def object_actions(self, card):
        if card.status != "active":
            return []
        return [(_("revoke"), reverse("admin:membership_membershipcard_revoke", args=[card.pk]))]

    @admin.display(description=_("actions"))
    def revoke_column(self, card):
        return action_links(self.object_actions(card), empty="—")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("grant/", view(self.grant_view), name="membership_membershipcard_grant"),
            path("<int:pk>/revoke/", view(self.revoke_view), name="membership_membershipcard_revoke"),
        ] + super().get_urls()

    def grant_view(self, request):
        """Give a member a card (with a reason), e.g. as a service gesture."""
        initial = {**new_key(), "member_id": request.GET.get("member")}  # from the member's page
        form = GrantForm(request.POST or None, initial=initial)
        if request.method == "POST" and request.user.has_perm("membership.grant_card") and form.is_valid():
            data = form.cleaned_data
            if not Member.objects.filter(pk=data["member_id"]).exists():
                form.add_error("member_id", _("No such member."))
            else:
                try:
                    card = cards.card_grant(
                        member_id=data["member_id"],
                        card_type_id=data["card_type"].pk,
                        actor_id=request.user.pk,
                        reason=data["reason"],
                    )
                except ApplicationError as exc:
                    form.add_error(None, exc.message)
                else:
                    self.log_addition(request, card, f"grant: {data['reason']}")
                    messages.success(request, _("Card granted."))
                    return redirect("admin:membership_membershipcard_changelist")
        return action_page(
            self,
            request,
            title=_("Grant a membership card"),
            form=form,
            obj=_("grant"),
            summary="",
            permission="membership.grant_card",
        )

    def revoke_view(self, request, pk):
        card = get_object_or_404(MembershipCard.objects.select_related("member", "card_type"), pk=pk)
        form = ReasonForm(request.POST or None, initial=new_key())
        if request.method == "POST" and request.user.has_perm("membership.grant_card") and form.is_valid():
            cards.card_revoke(card_id=card.pk, actor_id=request.user.pk, reason=form.cleaned_data["reason"])
            self.log_change(request, card, f"revoke: {form.cleaned_data['reason']}")
            messages.success(request, _("Card revoked."))
            return redirect("admin:membership_membershipcard_changelist")
        return action_page(
            self,
            request,
            title=_("Revoke the card"),
            form=form,
            obj=card,
            summary=f"{card.card_type} · {card.member} · {card.get_status_display()}",
            permission="membership.grant_card",
        )


@admin.register(CardEvent)
class CardEventAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "created_at",
        "card",
        "kind",
        "valid_until",
        reason("reason", _("reason")),
        "reference_text",
        "actor",
    ]
    list_filter = ["kind"]
    search_fields = ["=card__id", "=card__member__id"]
    list_select_related = ["card__card_type", "card__member", "actor"]
    exclude = ["reference"]
    readonly_fields = ["reference_text"]

    def get_queryset(self, request):
        # A card's first event keeps ``<channel>/<staff>`` of its claim as its reference.
        claim_channel = Func(
            F("reference"), Value("/"), Value(1), function="split_part", output_field=models.CharField()
        )
        return (
            super()
            .get_queryset(request)
            .annotate(claim_channel=claim_channel, claim_channel_name=channel_name_of("claim_channel"))
        )

    @admin.display(description=_("reference"), ordering="reference")
    def reference_text(self, event):
        """The reference, with the channel of a claim by its name."""
        if event.kind not in CardSource.values or "/" not in event.reference:
            return event.reference or "—"
        channel, _slash, staff = event.reference.partition("/")
        return " / ".join(filter(None, [event.claim_channel_name or channel, staff]))


@admin.register(CardPurchase)
class CardPurchaseAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "id",
        "member",
        "card_type",
        "period",
        money("amount_fen", _("amount")),
        "status",
        "period_start",
        "period_end",
        money("refunded_fen", _("refunded")),
        "refund_column",
    ]
    list_filter = ["status", "card_type", "period"]
    search_fields = ["=member__id", "out_trade_no"]
    list_select_related = ["member", "card_type"]
    show_full_result_count = False

    def object_actions(self, purchase):
        if purchase.status != "paid":
            return []
        return [(_("refund pro rata"), reverse("admin:membership_cardpurchase_refund", args=[purchase.pk]))]

    @admin.display(description=_("actions"))
    def refund_column(self, purchase):
        return action_links(self.object_actions(purchase), empty="—")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/refund/", view(self.refund_view), name="membership_cardpurchase_refund")
        ] + super().get_urls()

    def refund_view(self, request, pk):
        """Finance: refund the unused part of the card's latest period through WeChat Pay."""
        purchase = get_object_or_404(CardPurchase.objects.select_related("member", "card_type"), pk=pk)
        form = ReasonForm(request.POST or None, initial=new_key())
        if request.method == "POST" and request.user.has_perm("membership.refund_card") and form.is_valid():
            try:
                done = cards.card_purchase_refund(
                    purchase_id=purchase.pk, actor_id=request.user.pk, reason=form.cleaned_data["reason"]
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.log_change(
                    request,
                    purchase,
                    f"refund {format_fen(done.refunded_fen)}: {form.cleaned_data['reason']}",
                )
                messages.success(
                    request, _("Refunded %(amount)s.") % {"amount": format_fen(done.refunded_fen)}
                )
                return redirect("admin:membership_cardpurchase_changelist")
        return action_page(
            self,
            request,
            title=_("Refund the unused part"),
            form=form,
            obj=purchase,
            summary=_("Paid %(amount)s for %(start)s – %(end)s.")
            % {
                "amount": format_fen(purchase.amount_fen),
                "start": local_time(purchase.period_start),
                "end": local_time(purchase.period_end),
            },
            permission="membership.refund_card",
        )


class MemberDayRunInline(TabularInline):
    model = MemberDayRun
    fields = ["occurrence", "pushed", "started_at", "finished_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-occurrence"]

    def has_add_permission(self, request, obj=None):
        return False


class MemberDayForm(AudienceForm, forms.ModelForm):
    """A member day as an operator sets it: the weekday or the day of the month its recurrence needs,
    and its audience as pickers (tiers, card types, a segment, member tags) instead of a list of ids."""

    kinds = {
        "recurrence": {
            MemberDay.Recurrence.WEEKLY: ["weekday"],
            MemberDay.Recurrence.MONTHLY: ["day_of_month"],
        },
        **AudienceForm.kinds,
    }

    class Meta:
        model = MemberDay
        fields = [
            "name",
            "recurrence",
            "weekday",
            "day_of_month",
            "points_multiplier",
            "extra_discount_bp",
            "push_pack",
            "audience",
            "starts_on",
            "ends_on",
            "is_active",
        ]
        widgets = {"day_of_month": forms.NumberInput(attrs={"min": 1, "max": 31})}

    def clean(self):
        data = super().clean()
        recurrence = data.get("recurrence")
        if recurrence == MemberDay.Recurrence.WEEKLY and data.get("weekday") is None:
            self.add_error("weekday", _("A weekly member day needs its weekday."))
        day = data.get("day_of_month")
        if recurrence == MemberDay.Recurrence.MONTHLY and "day_of_month" not in self._errors:
            if day is None or not 1 <= day <= 31:
                self.add_error("day_of_month", _("A monthly member day needs its day of the month, 1 to 31."))
        multiplier = data.get("points_multiplier")
        if multiplier is not None and multiplier < 1:
            self.add_error(
                "points_multiplier", _("The points multiplier is at least 1 (1 means no extra points).")
            )
        if data.get("starts_on") and data.get("ends_on") and data["starts_on"] > data["ends_on"]:
            self.add_error("ends_on", _("The last day comes before the first."))
        return data


@admin.register(MemberDay)
class MemberDayAdmin(LimitedJSONAdminMixin, ModelAdmin):
    list_display = [
        "name",
        "recurrence",
        "weekday",
        "day_of_month",
        multiplier("points_multiplier", _("points multiplier")),
        "extra_discount_bp",
        "push_pack",
        audience_column,
        "is_active",
    ]
    list_filter = ["recurrence", "is_active", this_week_filter("starts_on", "ends_on", dates=True)]
    inlines = [MemberDayRunInline]
    form = MemberDayForm
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "is_active",
                    "recurrence",
                    "weekday",
                    "day_of_month",
                    "starts_on",
                    "ends_on",
                ]
            },
        ),
        (_("What members get"), {"fields": ["points_multiplier", "extra_discount_bp", "push_pack"]}),
        (
            _("Who"),
            {"fields": ["audience", "audience_tiers", "audience_cards", "audience_segment", "audience_tags"]},
        ),
    ]

    # Where the page is only read, what the pickers hold, by name.
    audience_tiers = audience_display("tiers", pgettext_lazy("membership", "tiers"))
    audience_cards = audience_display("card_holders", _("card types"))
    audience_segment = audience_display("segment", _("segment"))
    audience_tags = audience_display("tags", _("member tags"))

    def get_fieldsets(self, request, obj=None):
        return shown_fieldsets(self, request, obj, super().get_fieldsets(request, obj))
