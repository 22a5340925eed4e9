"""The admin's audience pickers, shared by coupon templates and member days.

An operator ticks tiers, card types and member tags by name and picks a segment from a list; the
form stores what ``audience_values`` always held: tier levels, card type ids, ``[segment id]`` or
tag ids.  Tiers and card types are membership's, segments and tags analytics': both sit above
coupons and tell ``coupons.audience`` at startup what there is to pick.
"""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from coupons import audience
from loyalty.admin_forms import KindFormMixin

#: Which picker holds the values of each audience kind.
PICKERS = {
    "tiers": "audience_tiers",
    "card_holders": "audience_cards",
    "segment": "audience_segment",
    "tags": "audience_tags",
}


class Checkboxes(forms.CheckboxSelectMultiple):
    """Ticked names in a row that wraps (``lo-choices``, loyalty/forms.css)."""

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"]["class"] = "lo-choices"
        return context


def picked_names(audience_kind: str, values) -> str:
    """What an audience's stored values mean, by name: ``白银会员、黄金会员``; a segment by its name.
    A value since deleted (a tag, a segment) says so rather than showing a bare number."""
    ids = audience.audience_values_ids(values)
    if audience_kind == "segment":
        names = dict(audience.segments().filter(pk__in=ids).values_list("pk", "name"))
    else:
        names = dict(audience.audience_choices(audience_kind))
    return "、".join(str(names.get(v, _gone(v))) for v in ids) or "—"


def _gone(value) -> str:
    return _("#%(n)s (no longer exists)") % {"n": value}


def audience_display(audience_kind: str, label):
    """A read-only field for an admin: what picker ``audience_kind`` holds, by name (named like the picker,
    it stands for it where the operator may only read the page)."""

    @admin.display(description=label)
    def display(model_admin, obj):
        return picked_names(audience_kind, obj.audience_values)

    return display


def audience_summary(obj) -> str:
    """The audience in words, for a list: 所有会员, or the kind and what was picked (会员标签：高价值、复购)."""
    kind = obj.get_audience_display()
    if obj.audience not in PICKERS:
        return str(kind)
    return f"{kind}：{picked_names(obj.audience, obj.audience_values)}"


@admin.display(description=_("audience"), ordering="audience")
def audience_column(obj) -> str:
    """A list's audience column: the kind and what was picked, by name (``audience_summary``)."""
    return audience_summary(obj)


class AudienceForm(KindFormMixin, forms.Form):
    """The audience as pickers: which one shows follows the audience kind (``KindFormMixin``).

    Combined with a ModelForm of a model with ``audience`` and ``audience_values``.
    """

    audience_tiers = forms.TypedMultipleChoiceField(
        label=pgettext_lazy("membership", "tiers"),
        coerce=int,
        choices=lambda: audience.audience_choices("tiers"),
        widget=Checkboxes,
        error_messages={"required": _("Tick at least one tier.")},
    )
    audience_cards = forms.TypedMultipleChoiceField(
        label=_("card types"),
        coerce=int,
        choices=lambda: audience.audience_choices("card_holders"),
        widget=Checkboxes,
        help_text=_("Members holding a valid card of any one of them."),
        error_messages={"required": _("Tick at least one card type.")},
    )
    audience_tags = forms.TypedMultipleChoiceField(
        label=_("member tags"),
        coerce=int,
        choices=lambda: audience.audience_choices("tags"),
        widget=Checkboxes,
        help_text=_("Members carrying any one of them."),
        error_messages={"required": _("Tick at least one tag.")},
    )
    audience_segment = forms.ModelChoiceField(
        label=_("segment"),
        queryset=None,
        empty_label=_("— choose a segment —"),
        help_text=_("Who matches the segment's rules when the coupon is claimed or issued."),
        error_messages={
            "required": _("Choose a segment."),
            "invalid_choice": _("That segment no longer exists: choose another."),
        },
    )

    kinds = {"audience": {kind: [field] for kind, field in PICKERS.items()}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "audience_segment" in self.fields:
            self.fields["audience_segment"].queryset = audience.segments()
        picked = audience.audience_values_ids(self.instance.audience_values)
        field = PICKERS.get(self.instance.audience)
        if field in self.fields and picked:
            if field == "audience_segment":
                self.initial[field] = picked[0]
            else:
                # A stored value nobody can pick any more (a tier or a tag since removed) stays shown, by number.
                known = dict(self.fields[field].choices)
                self.fields[field].choices = list(known.items()) + [
                    (v, _gone(v)) for v in picked if v not in known
                ]
                self.initial[field] = picked

    def clean(self):
        data = super().clean()
        field = PICKERS.get(self.kind_value("audience"))
        picked = data.get(field) if field else None
        if field == "audience_segment":
            self.derive("audience_values", [picked.pk] if picked else [])
        else:
            self.derive("audience_values", sorted(picked or []))
        return data
