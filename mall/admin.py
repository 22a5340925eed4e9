"""Mall back office: categories, items with stock and redemption counters, virtual-code import,
the fulfilment queue (ship one, or many from an uploaded CSV, with a per-row report), cancel, CSV export."""

import csv
import io
import json
import re

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.validators import URLValidator
from django.db.models import Count, F, Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from coupons.forms import Checkboxes
from loyalty.admin_forms import KindFormMixin, LinesField, read_only_display, shown_fieldsets
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
    low_stock_filter,
    member_cells,
    money,
    new_key,
)
from loyalty.errors import ApplicationError
from loyalty.money import yuan_text
from mall import carriers, sellers, services
from mall.models import (
    Category,
    ItemKind,
    LimitPeriod,
    MallItem,
    Redemption,
    RedemptionEvent,
    RedemptionEventKind,
    RedemptionStatus,
    VirtualCode,
    mask_code,
)
from membership.models import CardType, Tier
from stores.scoping import StoreScopedAdminMixin

SHIP_PERMISSION = "mall.ship_redemption"


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gb18030", errors="replace")  # Excel on Chinese Windows saves GBK


@admin.register(Category)
class CategoryAdmin(ModelAdmin):
    list_display = ["name", "sort_order"]
    list_editable = ["sort_order"]


def _tier_choices():
    """The lowest tier as an operator picks it: every member, or a tier by name."""
    tiers = [
        (level, name) for level, name in Tier.objects.order_by("level").values_list("level", "name") if level
    ]
    return [(0, _("every member")), *tiers]


def _card_type_choices():
    return list(CardType.objects.order_by("name", "pk").values_list("pk", "name"))


def _images(item) -> str:
    return "\n".join(item.extra_images or []) or "—"


def _tier_name(item) -> str:
    return dict(_tier_choices()).get(item.min_tier_level, item.min_tier_level)


def _card_type_names(item) -> str:
    ids = [int(v) for v in item.required_card_type_ids or [] if str(v).isdigit()]
    return (
        "、".join(CardType.objects.filter(pk__in=ids).order_by("name").values_list("name", flat=True)) or "—"
    )


class MallItemForm(KindFormMixin, forms.ModelForm):
    """An item as an operator fills it: only what its kind needs (a coupon item's template, stock
    added by hand for goods and coupons, codes imported for virtual items), more images one per line,
    the lowest tier and the card types by name."""

    image_url = forms.URLField(label=_("main image"), required=False, assume_scheme="https")
    extra_images = LinesField(
        label=_("more images"),
        help_text=_("One image address per line."),
        separators=re.compile(r"\s+"),
        max_items=20,
        max_item_length=500,
        item=URLValidator(
            schemes=["https", "http"], message=_("Enter image addresses starting with https://.")
        ),
    )
    min_tier_level = forms.TypedChoiceField(
        label=_("lowest tier"), coerce=int, choices=_tier_choices, initial=0, empty_value=0
    )
    required_card_type_ids = forms.TypedMultipleChoiceField(
        label=_("card types required"),
        coerce=int,
        required=False,
        choices=_card_type_choices,
        widget=Checkboxes,
        help_text=_("Holding any one of them is enough. None ticked: no card needed."),
    )
    stock_change = forms.IntegerField(
        label=_("add to stock"),
        required=False,
        help_text=_("Add (or, negative, remove) stock. Virtual-code items get stock by importing codes."),
    )

    kinds = {
        "kind": {
            ItemKind.PHYSICAL: ["stock_change"],
            ItemKind.PICKUP: ["stock_change"],
            ItemKind.COUPON: ["coupon_template", "stock_change"],
            ItemKind.VIRTUAL_CODE: [],
        },
        "period": {
            LimitPeriod.NONE: [],
            **{period: ["per_period_limit"] for period in LimitPeriod.values if period},
        },
    }

    class Meta:
        model = MallItem
        fields = [
            "name",
            "kind",
            "category",
            "is_active",
            "sort_order",
            "description",
            "image_url",
            "extra_images",
            "points",
            "cash_fen",
            "coupon_template",
            "per_member_limit",
            "period",
            "per_period_limit",
            "min_tier_level",
            "required_card_type_ids",
            "on_sale_from",
            "on_sale_until",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A value nobody can pick any more (a tier or card type since removed) stays shown, by number.
        for name, values in (
            ("min_tier_level", [self.instance.min_tier_level]),
            ("required_card_type_ids", self.instance.required_card_type_ids or []),
        ):
            if name in self.fields:
                known = dict(self.fields[name].choices)
                gone = [int(v) for v in values if str(v).isdigit() and int(v) not in known]
                if gone:
                    self.fields[name].choices = list(known.items()) + [
                        (v, _("#%(n)s (no longer exists)") % {"n": v}) for v in gone
                    ]

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if (
            kind == ItemKind.COUPON
            and not data.get("coupon_template")
            and "coupon_template" not in self._errors
        ):
            self.add_error("coupon_template", _("A coupon item needs a coupon template."))
        if data.get("period") and not data.get("per_period_limit") and "per_period_limit" not in self._errors:
            self.add_error("per_period_limit", _("Set how many per period."))
        if not data.get("points") and not data.get("cash_fen"):
            self.add_error("points", _("Set points, cash, or both."))
        if kind == ItemKind.VIRTUAL_CODE and data.get("stock_change") and "stock_change" not in self._errors:
            self.add_error("stock_change", _("Import codes instead: each code is one in stock."))
        if (
            data.get("on_sale_from")
            and data.get("on_sale_until")
            and data["on_sale_from"] >= data["on_sale_until"]
        ):
            self.add_error("on_sale_until", _("The end must come after the start."))
        current = self.instance.stock if self.instance.pk else 0
        if (data.get("stock_change") or 0) + current < 0:
            self.add_error("stock_change", _("The stock cannot go below zero."))
        return data


@admin.register(MallItem)
class MallItemAdmin(LimitedJSONAdminMixin, ModelAdmin):
    form = MallItemForm
    list_display = [
        "name",
        "kind",
        "category",
        "price",
        "stock",
        "sold_count",
        "awaiting_payment",
        "to_ship",
        "cancelled",
        "is_active",
        "sort_order",
        "actions_column",
    ]
    list_filter = ["kind", "is_active", "category", low_stock_filter(F("stock"))]
    search_fields = ["name"]
    readonly_fields = ["stock", "sold_count"]
    # Where the page is only read: images one per line, the tier and card types by name, not numbers or JSON.
    read_only_displays = {
        "extra_images": read_only_display("extra_images", _("more images"), _images),
        "min_tier_level": read_only_display("min_tier_level", _("lowest tier"), _tier_name),
        "required_card_type_ids": read_only_display(
            "required_card_type_ids", _("card types required"), _card_type_names
        ),
    }

    fieldsets = [
        (None, {"fields": ["name", "kind", "category", "is_active", "sort_order"]}),
        (_("Shown to members"), {"fields": ["description", "image_url", "extra_images"]}),
        (_("Price"), {"fields": ["points", "cash_fen", "coupon_template"]}),
        (_("Stock"), {"fields": ["stock", "sold_count", "stock_change"]}),
        (
            _("Who and when"),
            {
                "fields": [
                    "per_member_limit",
                    "period",
                    "per_period_limit",
                    "min_tier_level",
                    "required_card_type_ids",
                    "on_sale_from",
                    "on_sale_until",
                ]
            },
        ),
    ]

    def get_fieldsets(self, request, obj=None):
        return shown_fieldsets(self, request, obj, super().get_fieldsets(request, obj))

    def get_queryset(self, request):
        counts = {
            "n_pending": Count("redemptions", filter=Q(redemptions__status=RedemptionStatus.PENDING_PAYMENT)),
            "n_to_ship": Count(
                "redemptions",
                filter=Q(redemptions__status=RedemptionStatus.PAID, redemptions__kind="physical"),
            ),
            "n_cancelled": Count("redemptions", filter=Q(redemptions__status=RedemptionStatus.CANCELLED)),
        }
        return super().get_queryset(request).select_related("category").annotate(**counts)

    def save_model(self, request, obj, form, change):
        """Stock moves with every redemption: it is never written back from the form, only changed by
        the difference the operator asked for (a stale form would otherwise oversell)."""
        delta = form.cleaned_data.get("stock_change") or 0
        if change:
            fields = form.model_fields_changed()
            if fields:
                obj.save(update_fields=fields)
        else:
            obj.stock = 0
            obj.save()
        if delta:
            obj.stock = services.item_restock(item_id=obj.pk, delta=delta)

    @admin.display(description=_("price"))
    def price(self, item):
        return item.price_text()

    @admin.display(description=_("awaiting payment"), ordering="n_pending")
    def awaiting_payment(self, item):
        return item.n_pending

    @admin.display(description=_("to ship"), ordering="n_to_ship")
    def to_ship(self, item):
        return item.n_to_ship

    @admin.display(description=_("cancelled"), ordering="n_cancelled")
    def cancelled(self, item):
        return item.n_cancelled

    def object_actions(self, item):
        if item.kind != ItemKind.VIRTUAL_CODE:
            return []
        return [(_("import codes"), reverse("admin:mall_mallitem_import_codes", args=[item.pk]))]

    @admin.display(description=_("actions"))
    def actions_column(self, item):
        return action_links(self.object_actions(item))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/import-codes/", view(self.import_codes_view), name="mall_mallitem_import_codes"),
        ] + super().get_urls()

    def import_codes_view(self, request, pk):
        item = get_object_or_404(MallItem, pk=pk, kind=ItemKind.VIRTUAL_CODE)
        form = CodesForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and request.user.has_perm("mall.change_mallitem") and form.is_valid():
            added, skipped = services.virtual_codes_import(item_id=item.pk, codes=form.cleaned_data["codes"])
            self.log_change(request, item, f"imported {added} codes ({skipped} already there)")
            messages.success(
                request,
                _("%(added)s codes added to the stock; %(skipped)s were already uploaded.")
                % {"added": added, "skipped": skipped},
            )
            return redirect("admin:mall_mallitem_changelist")
        return action_page(
            self,
            request,
            title=_("Import virtual codes"),
            form=form,
            obj=item,
            summary=_("%(left)s in stock. Each new code adds one; a code already uploaded is skipped.")
            % {"left": item.stock},
            permission="mall.change_mallitem",
        )


class CodesForm(forms.Form):
    codes_file = forms.FileField(
        label=_("file of codes"), help_text=_("One code (or card secret) per line; CSV: the first column.")
    )

    def clean(self):
        data = super().clean()
        if data.get("codes_file"):
            text = _decode(data["codes_file"].read())
            data["codes"] = [row[0] for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
            if not data["codes"]:
                raise forms.ValidationError(_("The file holds no codes."))
        return data


@admin.register(VirtualCode)
class VirtualCodeAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["masked", "item", "redemption", "uploaded_at", "assigned_at"]
    list_filter = ["item", ("redemption", admin.EmptyFieldListFilter)]
    list_select_related = ["item", "redemption"]
    fields = ["masked", "item", "redemption", "uploaded_at", "assigned_at"]
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description=_("code"))
    def masked(self, code):
        return mask_code(code.code)


class RedemptionEventInline(ReadOnlyAdminMixin, TabularInline):
    model = RedemptionEvent
    fields = ["created_at", "kind", "note_text", "actor", "store", "staff"]
    readonly_fields = fields
    extra = 0

    #: Who confirmed receipt, kept as a code in a "completed" event's note.
    COMPLETED_BY = {"auto": _("confirmed automatically"), "member": _("confirmed by the member")}

    @admin.display(description=_("note"))
    def note_text(self, event):
        if event.kind == RedemptionEventKind.COMPLETED:
            return self.COMPLETED_BY.get(event.note, event.note)
        return event.note


class ShipForm(forms.Form):
    """The carrier from the list of common ones (or 其他 and its name), and the tracking number."""

    carrier = forms.ChoiceField(label=_("carrier"), choices=carriers.choices(_("other")))
    other_carrier = forms.CharField(
        label=_("other carrier"), max_length=40, required=False, help_text=_("When the carrier is 其他.")
    )
    tracking_no = forms.CharField(label=_("tracking number"), max_length=64)

    class Media:
        js = ["loyalty/kinds.js"]  # the other carrier's name only when 其他 is chosen
        css = {"all": ["loyalty/forms.css"]}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["carrier"].widget.attrs["data-kind-switch"] = json.dumps(
            {carriers.OTHER: ["other_carrier"]}
        )

    @classmethod
    def initial_for(cls, r: Redemption) -> dict:
        if not r.carrier or r.carrier in carriers.CARRIERS:
            return {"carrier": r.carrier, "tracking_no": r.tracking_no}
        return {"carrier": carriers.OTHER, "other_carrier": r.carrier, "tracking_no": r.tracking_no}

    def clean(self):
        data = super().clean()
        if data.get("carrier") == carriers.OTHER:
            if not data.get("other_carrier", "").strip():
                self.add_error("other_carrier", _("Type the carrier's name."))
            else:
                data["carrier"] = data["other_carrier"].strip()
        return data


class ShipFileForm(forms.Form):
    tracking_file = forms.FileField(
        label=_("file of tracking numbers"),
        help_text=_(
            "CSV: redemption number, carrier, tracking number — one redemption per line. The redemptions' "
            "export (of the queue awaiting shipment) starts with these three columns: fill them in and upload it."
        ),
    )

    def clean(self):
        data = super().clean()
        if data.get("tracking_file"):
            rows = list(csv.reader(io.StringIO(_decode(data["tracking_file"].read()))))
            rows = [r for r in rows if any(cell.strip() for cell in r)]
            if rows and rows[0] and not rows[0][0].strip().upper().startswith("M"):
                rows = rows[1:]  # a header line
            if not rows:
                raise forms.ValidationError(_("The file holds no rows."))
            data["rows"] = rows
        return data


@admin.register(Redemption)
class RedemptionAdmin(StoreScopedAdminMixin, CsvExportMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "no",
        "member",
        "item",
        "points",
        money("cash_fen", _("cash")),
        "status",
        "created_at",
        "recipient",
        "carrier",
        "tracking_no",
        "actions_column",
    ]
    list_filter = ["status", "kind", "item", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=no", "=member__id", "member__phone", "tracking_no", "recipient", "phone"]
    list_select_related = ["item", "member"]
    inlines = [RedemptionEventInline]
    show_full_result_count = False
    change_list_template = "admin/mall/redemption/change_list.html"
    exclude = ["idempotency_key", "request_hash"]
    store_field = "events__store"
    store_list_filter = False

    def store_scope_q(self, store_ids) -> Q:
        """A redemption belongs to the stores where something happened to it (a pick-up) at a counter."""
        return Q(pk__in=RedemptionEvent.objects.filter(store_id__in=store_ids).values("redemption_id"))

    # The first three columns are what "mark shipped from a file" reads (ShipFileForm): the export of the
    # queue, 待发货, filled in with carriers and tracking numbers, is a file it takes back.
    csv_header = [
        _("redemption number"),
        _("carrier"),
        _("tracking number"),
        *MEMBER_HEADER,
        _("item"),
        _("kind"),
        _("points"),
        in_yuan(_("cash")),
        _("status"),
        _("created at"),
        _("paid at"),
        _("recipient"),
        _("phone"),
        _("address"),
        _("shipped at"),
        _("completed at"),
        _("cancelled at"),
    ]

    def csv_row(self, r) -> list:
        return [
            r.no,
            r.carrier,
            r.tracking_no,
            *member_cells(r.member),
            r.item.name,
            r.get_kind_display(),
            r.points,
            yuan_text(r.cash_fen),
            r.get_status_display(),
            local_time(r.created_at),
            local_time(r.paid_at),
            r.recipient,
            r.phone,
            r.address,
            local_time(r.shipped_at),
            local_time(r.completed_at),
            local_time(r.cancelled_at),
        ]

    def object_actions(self, r):
        actions = []
        seller = sellers.refund_page(services.sold_elsewhere_source(r))
        if seller is not None and r.status != RedemptionStatus.CANCELLED:
            # Its money is the seller's payment: refunding it there also cancels the shipment.
            actions.append((_("refund (%(seller)s)") % {"seller": seller[0]}, seller[1]))
        if r.kind == ItemKind.PHYSICAL and r.status in (RedemptionStatus.PAID, RedemptionStatus.SHIPPED):
            # The same form ships a paid one and corrects the carrier or number of a shipped one.
            label = _("ship") if r.status == RedemptionStatus.PAID else _("correct tracking")
            actions.append((label, reverse("admin:mall_redemption_ship", args=[r.pk])))
        if seller is None and (
            r.status == RedemptionStatus.PENDING_PAYMENT
            or (r.status == RedemptionStatus.PAID and r.kind == ItemKind.PHYSICAL)
        ):
            actions.append((_("cancel"), reverse("admin:mall_redemption_cancel", args=[r.pk])))
        return actions

    @admin.display(description=_("actions"))
    def actions_column(self, r):
        return action_links(self.object_actions(r))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/ship/", view(self.ship_view), name="mall_redemption_ship"),
            path("<int:pk>/cancel/", view(self.cancel_view), name="mall_redemption_cancel"),
            path("ship-file/", view(self.ship_file_view), name="mall_redemption_ship_file"),
        ] + super().get_urls()

    def ship_view(self, request, pk):
        r = get_object_or_404(Redemption.objects.select_related("item", "member"), pk=pk)
        form = ShipForm(request.POST or None, initial=ShipForm.initial_for(r))
        if request.method == "POST" and request.user.has_perm(SHIP_PERMISSION) and form.is_valid():
            try:
                services.redemption_ship(
                    redemption_id=r.pk,
                    actor_id=request.user.pk,
                    carrier=form.cleaned_data["carrier"],
                    tracking_no=form.cleaned_data["tracking_no"],
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.log_change(
                    request, r, f"shipped: {form.cleaned_data['carrier']} {form.cleaned_data['tracking_no']}"
                )
                messages.success(request, _("Marked shipped."))
                return redirect(
                    reverse("admin:mall_redemption_changelist") + "?status__exact=paid&kind__exact=physical"
                )
        return action_page(
            self,
            request,
            title=_("Mark shipped") if r.status == RedemptionStatus.PAID else _("Correct the tracking"),
            form=form,
            obj=r,
            summary=f"{r.item} · {r.address}",  # the address holds the recipient and phone
            permission=SHIP_PERMISSION,
        )

    def cancel_view(self, request, pk):
        r = get_object_or_404(Redemption.objects.select_related("item", "member"), pk=pk)
        seller = sellers.refund_page(services.sold_elsewhere_source(r))
        if seller is not None:
            # Cancelling a unit another app sold means refunding its payment: that app's refund page does
            # both (the money back, this shipment cancelled), with its own confirmation.
            messages.info(
                request,
                _(
                    "This unit was sold by %(seller)s: its refund returns the payment and cancels the shipment."
                )
                % {"seller": seller[0]},
            )
            return redirect(seller[1])
        form = ReasonForm(request.POST or None, initial=new_key())
        if request.method == "POST" and request.user.has_perm(SHIP_PERMISSION) and form.is_valid():
            try:
                services.redemption_cancel(
                    redemption_id=r.pk, actor_id=request.user.pk, reason=form.cleaned_data["reason"]
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.log_change(request, r, f"cancelled: {form.cleaned_data['reason']}")
                messages.success(request, _("Cancelled: points, cash and stock were given back."))
                return redirect("admin:mall_redemption_changelist")
        return action_page(
            self,
            request,
            title=_("Cancel the redemption"),
            form=form,
            obj=r,
            summary=f"{r.item} · {r.member} · {r.get_status_display()}",
            permission=SHIP_PERMISSION,
        )

    def ship_file_view(self, request):
        """Mark many redemptions shipped from an uploaded CSV; shows what happened to every row."""
        if not request.user.has_perm(SHIP_PERMISSION):
            raise PermissionDenied
        form = ShipFileForm(request.POST or None, request.FILES or None)
        results = None
        if request.method == "POST" and form.is_valid():
            results = services.redemptions_ship_rows(rows=form.cleaned_data["rows"], actor_id=request.user.pk)
            shipped = sum(r["result"] == "shipped" for r in results)
            self.message_user(
                request,
                _("%(shipped)s of %(rows)s rows marked shipped.")
                % {"shipped": shipped, "rows": len(results)},
                messages.SUCCESS if shipped == len(results) else messages.WARNING,
            )
        labels = {
            "shipped": _("shipped"),
            "already_shipped": _("already shipped with this number"),
            "not_found": _("no such redemption"),
            "missing_tracking": _("carrier or tracking number missing"),
            "not_shippable": _("not awaiting shipment"),
        }
        for row in results or []:
            row["label"] = labels.get(row["result"], row["result"])
        context = {
            **self.admin_site.each_context(request),
            "title": _("Mark shipped from a file"),
            "opts": self.model._meta,
            "form": form,
            "results": results,
        }
        return TemplateResponse(request, "admin/mall/ship_file.html", context)
