"""Coupon back office: templates with their figures, coupons (void, CSV), gift packs, bulk issues with progress."""

import re

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, F, Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from coupons import audience, services
from coupons.exceptions import CouponNotVoidable
from coupons.forms import AudienceForm, Checkboxes, audience_column, audience_display
from coupons.models import (
    SOURCES,
    BulkIssue,
    BulkIssueResult,
    BulkIssueTarget,
    Coupon,
    CouponEvent,
    CouponEventKind,
    CouponKind,
    CouponTemplate,
    GiftPack,
    GiftPackGrant,
    GiftPackItem,
    Scope,
    Validity,
)
from loyalty.admin_forms import LinesField, shown_fieldsets
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
    local_time,
    low_stock_filter,
    member_cells,
    new_key,
    rows_table,
    this_week_filter,
)
from loyalty.db_router import replica_readable
from loyalty.errors import ApplicationError
from loyalty.labels import REASONS
from loyalty.spreadsheets import stream_csv
from members.models import Member
from members.receiving import members_receiving
from stores.scoping import StoreScopedAdminMixin

# What a coupon gives: fixed once coupons of the template exist, since they are priced by it.
TERMS = [
    "kind",
    "threshold_fen",
    "amount_off_fen",
    "percent_off",
    "max_discount_fen",
    "gift_sku",
    "scope",
    "scope_values",
    "scope_exclude",
    "stacking",
    "validity",
    "valid_from",
    "valid_until",
    "valid_days",
]


class CouponTemplateForm(AudienceForm, forms.ModelForm):
    """A template as an operator fills it: only the fields of its kind, validity, audience and scope;
    audience and scope as pickers and lines, stored as the lists they always were."""

    scope_categories = LinesField(
        label=_("categories"),
        required=True,
        help_text=_("One per line, as the order system names them (e.g. 茶饮)."),
        error_messages={"required": _("List at least one category.")},
    )
    scope_skus = LinesField(
        label=_("SKUs"),
        required=True,
        help_text=_("One per line (e.g. TEA-001)."),
        error_messages={"required": _("List at least one SKU.")},
    )

    kinds = {
        "kind": {
            CouponKind.AMOUNT_OFF: ["threshold_fen", "amount_off_fen"],
            CouponKind.PERCENT_OFF: ["threshold_fen", "percent_off", "max_discount_fen"],
            CouponKind.NO_THRESHOLD: ["amount_off_fen"],
            CouponKind.FREE_SHIPPING: ["threshold_fen"],
            CouponKind.EXCHANGE: ["threshold_fen", "gift_sku"],
        },
        "validity": {Validity.FIXED: ["valid_from", "valid_until"], Validity.RELATIVE: ["valid_days"]},
        **AudienceForm.kinds,
        "scope": {
            Scope.ALL: [],
            Scope.CATEGORIES: ["scope_categories", "scope_exclude"],
            Scope.SKUS: ["scope_skus", "scope_exclude"],
        },
    }

    class Meta:
        model = CouponTemplate
        fields = [
            "name",
            "description",
            "is_active",
            *TERMS,
            "total_stock",
            "per_member_limit",
            "claimable",
            "claim_starts_at",
            "claim_ends_at",
            "audience",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        scope_field = {Scope.CATEGORIES: "scope_categories", Scope.SKUS: "scope_skus"}.get(
            self.instance.scope
        )
        if scope_field:
            self.initial[scope_field] = list(self.instance.scope_values or [])

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        scope_field = {Scope.CATEGORIES: "scope_categories", Scope.SKUS: "scope_skus"}.get(data.get("scope"))
        self.derive("scope_values", list(data.get(scope_field) or []) if scope_field else [])
        self._check_what_it_gives(kind, data)
        if data.get("validity") == Validity.FIXED and "valid_until" not in self._errors:
            if not data.get("valid_until"):
                self.add_error("valid_until", _("A coupon valid on fixed dates needs its last day."))
            elif data.get("valid_from") and data["valid_from"] >= data["valid_until"]:
                self.add_error("valid_until", _("The end must come after the start."))
        if data.get("validity") == Validity.RELATIVE and data.get("valid_days") == 0:
            self.add_error("valid_days", _("Valid for at least one day."))
        if data.get("claim_starts_at") and data.get("claim_ends_at"):
            if data["claim_starts_at"] >= data["claim_ends_at"]:
                self.add_error("claim_ends_at", _("The end must come after the start."))
        issued = self.instance.issued_count if self.instance.pk else 0
        if data.get("total_stock") is not None and data["total_stock"] < issued:
            self.add_error(
                "total_stock", _("%(n)s are already issued: the stock cannot be less.") % {"n": issued}
            )
        # clean() runs before the instance takes the new values: compare values, not the form's own notion.
        # A field that does not belong to the kind gives nothing, so only those that do are terms.
        terms = {n: data[n] for n in TERMS if n in data and self.belongs(n)}
        terms["scope_values"] = self.derived["scope_values"]
        changed_terms = [n for n, v in terms.items() if v != getattr(self.instance, n)]
        if issued and changed_terms:
            raise forms.ValidationError(
                _(
                    "Coupons of this template were issued on its terms (%(fields)s): make a new template instead."
                )
                % {"fields": ", ".join(str(self._label(name)) for name in changed_terms)}
            )
        return data

    def _check_what_it_gives(self, kind, data):
        """What each kind must give, in the operator's words (the money fields are already fen)."""
        errors = self._errors
        if kind in (CouponKind.AMOUNT_OFF, CouponKind.NO_THRESHOLD) and "amount_off_fen" not in errors:
            if not data.get("amount_off_fen"):
                self.add_error("amount_off_fen", _("Give the amount taken off, e.g. 20."))
        if kind == CouponKind.PERCENT_OFF and not data.get("percent_off") and "percent_off" not in errors:
            self.add_error("percent_off", _("A discount coupon needs its discount, e.g. 8.8."))
        if kind == CouponKind.EXCHANGE and not data.get("gift_sku") and "gift_sku" not in errors:
            self.add_error("gift_sku", _("An exchange coupon needs the SKU it exchanges for."))

    def _label(self, name):
        if name in self.fields:
            return self.fields[name].label
        return self._meta.model._meta.get_field(name).verbose_name


@admin.register(CouponTemplate)
class CouponTemplateAdmin(LimitedJSONAdminMixin, ModelAdmin):
    form = CouponTemplateForm
    list_display = [
        "name",
        "face",
        "total_stock",
        "issued_count",
        "used",
        "redemption_rate",
        audience_column,
        "claimable",
        "is_active",
        "actions_column",
    ]
    list_filter = [
        "kind",
        "is_active",
        "claimable",
        "audience",
        low_stock_filter(F("total_stock") - F("issued_count")),
        this_week_filter("claim_starts_at", "claim_ends_at"),
    ]
    search_fields = ["name"]
    readonly_fields = ["issued_count"]
    fieldsets = [
        (None, {"fields": ["name", "description", "kind", "is_active"]}),
        (
            _("What it gives"),
            {"fields": ["threshold_fen", "amount_off_fen", "percent_off", "max_discount_fen", "gift_sku"]},
        ),
        (_("Validity"), {"fields": ["validity", "valid_from", "valid_until", "valid_days"]}),
        (
            _("Stock and claiming"),
            {
                "fields": [
                    "total_stock",
                    "issued_count",
                    "per_member_limit",
                    "claimable",
                    "claim_starts_at",
                    "claim_ends_at",
                ]
            },
        ),
        (
            _("Who and what"),
            {
                "fields": [
                    "audience",
                    "audience_tiers",
                    "audience_cards",
                    "audience_segment",
                    "audience_tags",
                    "scope",
                    "scope_categories",
                    "scope_skus",
                    "scope_exclude",
                    "stacking",
                ]
            },
        ),
    ]

    # Where the page is only read, what the pickers hold, by name.
    audience_tiers = audience_display("tiers", pgettext_lazy("membership", "tiers"))
    audience_cards = audience_display("card_holders", _("card types"))
    audience_segment = audience_display("segment", _("segment"))
    audience_tags = audience_display("tags", _("member tags"))

    @admin.display(description=_("categories or SKUs"))
    def scope_categories(self, template):
        return "、".join(template.scope_values) or "—"

    scope_skus = scope_categories

    def get_fieldsets(self, request, obj=None):
        return shown_fieldsets(self, request, obj, super().get_fieldsets(request, obj))

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(used_count=Count("coupons", filter=Q(coupons__status="used")))
        )

    def save_model(self, request, obj, form, change):
        """Write only what the operator changed: ``issued_count`` moves with every claim and must never be
        written back from the form (that would forget the claims made meanwhile and oversell)."""
        if not change:
            obj.save()
            return
        fields = [name for name in form.model_fields_changed() if name != "issued_count"]
        if fields:
            obj.save(update_fields=fields)

    @admin.display(description=_("face"))
    def face(self, template):
        return template.face()

    @admin.display(description=_("used"), ordering="used_count")
    def used(self, template):
        return template.used_count

    @admin.display(description=_("redemption rate"))
    def redemption_rate(self, template):
        if not template.issued_count:
            return "—"
        return f"{template.used_count * 100 / template.issued_count:.1f}%"

    def object_actions(self, template):
        return [(_("bulk issue"), reverse("admin:coupons_coupontemplate_bulk_issue", args=[template.pk]))]

    @admin.display(description=_("actions"))
    def actions_column(self, template):
        return action_links(self.object_actions(template))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/bulk-issue/", view(self.bulk_issue_view), name="coupons_coupontemplate_bulk_issue"
            ),
        ] + super().get_urls()

    def bulk_issue_view(self, request, pk):
        """Issue this coupon to every member, a segment's members, or the members listed in an uploaded file."""
        template = get_object_or_404(CouponTemplate, pk=pk)
        form = BulkIssueForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and request.user.has_perm("coupons.issue_coupons") and form.is_valid():
            try:
                bulk = services.bulk_issue_create(
                    template_id=template.pk,
                    member_ids=form.cleaned_data["member_ids"],
                    actor_id=request.user.pk,
                )
            except ApplicationError as exc:
                messages.error(request, exc.message)
                return redirect("admin:coupons_coupontemplate_changelist")
            self.log_change(request, template, f"bulk issue #{bulk.pk} to {bulk.total} members")
            return redirect("admin:coupons_bulkissue_change", bulk.pk)
        return action_page(
            self,
            request,
            title=_("Bulk issue"),
            form=form,
            obj=template,
            summary=_("%(left)s left in stock. Each member gets one; nobody beyond the per-member limit.")
            % {"left": template.remaining_stock},
            permission="coupons.issue_coupons",
        )


class BulkIssueForm(forms.Form):
    everyone = forms.BooleanField(label=_("all members"), required=False)
    # Segments are analytics' (above coupons): the queryset comes from it when the form is made.
    segment = forms.ModelChoiceField(label=_("or a segment"), queryset=None, required=False)
    tags = forms.TypedMultipleChoiceField(
        label=_("or members with any of these tags"),
        coerce=int,
        required=False,
        choices=lambda: audience.audience_choices("tags"),
        widget=Checkboxes,
    )
    members_file = forms.FileField(
        label=_("or a file of members"),
        required=False,
        help_text=_("One per line (or comma-separated): member id, openid or phone."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = audience.segments()

    def clean(self):
        data = super().clean()
        # A listed closed account stays in (the report shows it skipped); "all members" means those who
        # may receive (members.receiving), and a segment never holds a closed account.
        if data.get("everyone"):
            data["member_ids"] = list(members_receiving().values_list("pk", flat=True))
        elif data.get("segment"):
            data["member_ids"] = list(
                audience.segment_members(segment_id=data["segment"].pk).values_list("pk", flat=True)
            )
            if not data["member_ids"]:
                raise forms.ValidationError(_("Nobody is in this segment now."))
        elif data.get("tags"):
            tagged = audience.tag_members(tag_ids=data["tags"]).filter(
                pk__in=members_receiving().values("pk")
            )
            data["member_ids"] = list(tagged.values_list("pk", flat=True))
            if not data["member_ids"]:
                raise forms.ValidationError(_("Nobody carries these tags now."))
        elif data.get("members_file"):
            raw = data["members_file"].read()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw.decode("gb18030", errors="replace")  # Excel on Chinese Windows saves GBK
            tokens = [t for t in re.split(r"[\s,;]+", text) if t]
            ids = [int(t) for t in tokens if re.fullmatch(r"[0-9]{1,10}", t)]
            found = Member.objects.filter(Q(pk__in=ids) | Q(openid__in=tokens) | Q(phone__in=tokens))
            data["member_ids"] = list(found.values_list("pk", flat=True))
            if not data["member_ids"]:
                raise forms.ValidationError(_("No member in the file was found."))
        else:
            raise forms.ValidationError(_("Choose all members, a segment, tags or upload a file."))
        return data


class CouponEventInline(ReadOnlyAdminMixin, TabularInline):
    model = CouponEvent
    fields = ["created_at", "kind", "order_no", "reason_text", "actor", "store", "staff"]
    readonly_fields = fields
    extra = 0

    @admin.display(description=_("reason"))
    def reason_text(self, event):
        # An "issued" event keeps how the coupon was issued (its source's code) as its reason.
        return (SOURCES if event.kind == CouponEventKind.ISSUED else REASONS).label(event.reason)


@admin.register(Coupon)
class CouponAdmin(StoreScopedAdminMixin, CsvExportMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "code",
        "template",
        "member",
        "status",
        "source",
        "valid_until",
        "order_no",
        "void_column",
    ]
    list_filter = ["status", "source", "template", ("valid_until", admin.DateFieldListFilter)]
    search_fields = ["=code", "=member__id", "member__phone", "order_no"]
    list_select_related = ["template", "member"]
    inlines = [CouponEventInline]
    show_full_result_count = False
    exclude = ["issue_key"]  # a machine key: in the database, not for operators
    store_field = "events__store"
    store_list_filter = False

    def store_scope_q(self, store_ids) -> Q:
        """A coupon belongs to the stores where something happened to it (used, restored…) at a counter."""
        return Q(pk__in=CouponEvent.objects.filter(store_id__in=store_ids).values("coupon_id"))

    csv_header = [
        _("ID"),
        _("code"),
        _("coupon template"),
        *MEMBER_HEADER,
        _("status"),
        _("source"),
        _("issued at"),
        _("valid until"),
        _("order number"),
        _("used at"),
    ]

    def csv_row(self, c) -> list:
        return [
            c.id,
            c.code,
            c.template.name,
            *member_cells(c.member),
            c.get_status_display(),
            c.get_source_display(),
            local_time(c.issued_at),
            local_time(c.valid_until),
            c.order_no,
            local_time(c.used_at),
        ]

    def object_actions(self, coupon):
        if coupon.status not in ("available", "locked"):
            return []
        return [(_("void"), reverse("admin:coupons_coupon_void", args=[coupon.pk]))]

    @admin.display(description=_("actions"))
    def void_column(self, coupon):
        return action_links(self.object_actions(coupon))

    def get_urls(self):
        return [
            path("<int:pk>/void/", self.admin_site.admin_view(self.void_view), name="coupons_coupon_void"),
        ] + super().get_urls()

    def void_view(self, request, pk):
        coupon = get_object_or_404(Coupon.objects.select_related("template", "member"), pk=pk)
        form = ReasonForm(request.POST or None, initial=new_key())
        if request.method == "POST" and request.user.has_perm("coupons.void_coupon") and form.is_valid():
            try:
                services.coupon_void(
                    coupon_id=coupon.pk, actor_id=request.user.pk, reason=form.cleaned_data["reason"]
                )
            except CouponNotVoidable as exc:
                form.add_error(None, exc.message)
            else:
                self.log_change(request, coupon, f"void: {form.cleaned_data['reason']}")
                messages.success(request, _("Voided."))
                return redirect("admin:coupons_coupon_changelist")
        return action_page(
            self,
            request,
            title=_("Void the coupon"),
            form=form,
            obj=coupon,
            summary=f"{coupon.template.face()} · {coupon.member} · {coupon.get_status_display()}",
            permission="coupons.void_coupon",
        )


class GiftPackItemInline(TabularInline):
    model = GiftPackItem
    extra = 1
    autocomplete_fields = ["template"]


@admin.register(GiftPack)
class GiftPackAdmin(ModelAdmin):
    list_display = ["name", "points", "contents", "is_active"]
    inlines = [GiftPackItemInline]

    @admin.display(description=_("coupons"))
    def contents(self, pack):
        return ", ".join(str(item) for item in pack.items.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("items__template")


@admin.register(GiftPackGrant)
class GiftPackGrantAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["created_at", "pack", "member", "occasion_text", "withheld_text"]
    list_filter = ["pack"]
    search_fields = ["=member__id", "occasion"]
    list_select_related = ["pack", "member"]
    fields = ["created_at", "pack", "member", "occasion_text", "withheld_text"]
    readonly_fields = fields

    @admin.display(description=_("occasion"), ordering="occasion")
    def occasion_text(self, grant):
        return grant.occasion_display()

    @admin.display(description=_("coupons not issued"))
    def withheld_text(self, grant):
        """The coupons not issued, each with why (the error's code kept in ``withheld``)."""
        if not grant.withheld:
            return "—"
        names = dict(
            CouponTemplate.objects.filter(pk__in=[w.get("template_id") for w in grant.withheld]).values_list(
                "pk", "name"
            )
        )
        reasons = {"coupon_sold_out": _("sold out"), "coupon_limit_reached": _("per-member limit reached")}
        return rows_table(
            (
                names.get(w.get("template_id"), f"#{w.get('template_id')}"),
                reasons.get(w.get("reason"), w.get("reason")),
            )
            for w in grant.withheld
        )


@admin.register(BulkIssue)
class BulkIssueAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "id",
        "template",
        "status",
        "progress",
        "issued",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status"]
    list_select_related = ["template", "created_by"]
    change_form_template = "admin/coupons/bulkissue/change_form.html"

    @admin.display(description=_("progress"))
    def progress(self, bulk):
        return f"{bulk.processed} / {bulk.total}"

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context["results"] = bulk_issue_results(obj)
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/progress.json", view(self.progress_json), name="coupons_bulkissue_progress"),
            path("<int:pk>/report.csv", view(self.report_csv), name="coupons_bulkissue_report"),
        ] + super().get_urls()

    def progress_json(self, request, pk):
        bulk = get_object_or_404(BulkIssue, pk=pk)
        if not self.has_view_permission(request, bulk):
            return JsonResponse({}, status=403)
        return JsonResponse(
            {
                "status": bulk.status,
                "status_display": bulk.get_status_display(),
                "total": bulk.total,
                "processed": bulk.processed,
                "issued": bulk.issued,
                "results": {row["code"]: row["count"] for row in bulk_issue_results(bulk)},
            }
        )

    @replica_readable
    def report_csv(self, request, pk):
        """The per-member result: issued, per-member limit reached, sold out, skipped (account closed) or
        still pending; ``reason`` says it in the operator's language."""
        bulk = get_object_or_404(BulkIssue, pk=pk)
        if not self.has_view_permission(request, bulk):
            return JsonResponse({}, status=403)
        targets = BulkIssueTarget.objects.filter(bulk_issue=bulk).select_related("member").order_by("id")
        # The openid too, to match a list uploaded by openid; a closed account's is a placeholder: left out.
        rows = (
            [
                *member_cells(t.member),
                t.member.openid if t.member.closed_at is None else "",
                t.get_result_display(),
            ]
            for t in targets.iterator(chunk_size=5000)
        )
        return stream_csv(
            filename=f"{_('bulk issue')}_{bulk.pk}.csv",
            header=[*MEMBER_HEADER, _("openid"), _("result")],
            rows=rows,
        )


def bulk_issue_results(bulk: BulkIssue) -> list[dict]:
    """How many members each outcome has: issued, each reason for not issuing, still pending; every
    outcome listed, zeros too, so the page says what did not happen as well."""
    counts = dict(
        BulkIssueTarget.objects.filter(bulk_issue=bulk)
        .order_by()
        .values_list("result")
        .annotate(n=Count("id"))
        .values_list("result", "n")
    )
    return [
        {"code": result.value, "label": result.label, "count": counts.get(result.value, 0)}
        for result in RESULTS_ORDER
    ]


#: Issued first, then each reason a member got nothing, then those not reached yet.
RESULTS_ORDER = [
    BulkIssueResult.ISSUED,
    BulkIssueResult.LIMIT,
    BulkIssueResult.SOLD_OUT,
    BulkIssueResult.CLOSED,
    BulkIssueResult.PENDING,
]
