"""The segment builder: a segment's rules edited as groups of conditions, not typed as JSON.

The widget renders the stored rule tree into a hidden input and, beside it, what
``static/loyalty/segment_builder.js`` needs to draw it: every condition of ``analytics.segments``
with its label, its kind of value and what may be picked (tiers, card types, RFM segments,
months, channels, tags, by name), the sentences in the operator's language and the count
endpoint.  The script writes the tree back into the input; the form still checks it with
``validate_rules`` (and reads it with the API's JSON depth limit).
"""

from __future__ import annotations

import json

from django import forms
from django.urls import reverse
from django.utils.dates import MONTHS
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from analytics.models import MemberTag, RfmSegment
from loyalty.admin_widgets import style_widget
from members.models import Channel, Member
from membership.models import CardType, Tier


def _channels() -> list[tuple[str, str]]:
    """Channel codes members arrived by or operators named, by name where one was given."""
    names = dict(Channel.objects.values_list("code", "name"))
    used = Member.objects.exclude(registration_channel="").values_list("registration_channel", flat=True)
    codes = sorted(set(names) | set(used.distinct()))
    return [(code, names.get(code) or code) for code in codes]


def field_specs() -> list[dict]:
    """Every condition as the builder offers it, in the order an operator looks for them."""
    specs = [
        {
            "field": "last_purchase_within_days",
            "label": _("bought in the last N days"),
            "type": "days",
            "unit": pgettext_lazy("unit", "days"),
            "default": 90,
        },
        {
            "field": "last_purchase_not_within_days",
            "label": _("bought before, but not in the last N days"),
            "type": "days",
            "unit": pgettext_lazy("unit", "days"),
            "default": 90,
        },
        {"field": "last_purchase_after", "label": _("last purchase on or after"), "type": "date"},
        {"field": "last_purchase_before", "label": _("last purchase before"), "type": "date"},
        {"field": "order_count", "label": _("purchases (lifetime)"), "type": "range", "unit": _("times")},
        {"field": "points_balance", "label": _("points balance"), "type": "range", "unit": _("points")},
        {
            "field": "stored_value_balance",
            "label": _("stored-value balance"),
            "type": "range",
            "unit": _("yuan"),
            "scale": 100,  # typed in yuan, stored in fen
        },
        {
            "field": "tier",
            "label": _("membership tier"),
            "type": "choices",
            "options": list(Tier.objects.order_by("level").values_list("level", "name")),
        },
        {
            "field": "card",
            "label": _("holds a valid card"),
            "type": "choices",
            "options": list(CardType.objects.order_by("name", "pk").values_list("pk", "name")),
        },
        {"field": "rfm_segment", "label": _("RFM segment"), "type": "choices", "options": RfmSegment.choices},
        {
            "field": "birthday_month",
            "label": _("birthday month"),
            "type": "choices",
            "options": MONTHS.items(),
        },
        {
            "field": "registration_channel",
            "label": _("registration channel"),
            "type": "choices",
            "options": _channels(),
        },
        {
            "field": "tag",
            "label": _("member tag"),
            "type": "choices",
            "options": list(MemberTag.objects.order_by("name").values_list("pk", "name")),
        },
    ]
    for spec in specs:
        spec["label"] = str(spec["label"])
        if "unit" in spec:
            spec["unit"] = str(spec["unit"])
        if "options" in spec:
            spec["options"] = [[value, str(name)] for value, name in spec["options"]]
    return specs


def texts() -> dict[str, str]:
    """The builder's sentences, in the language of the request."""
    return {
        key: str(value)
        for key, value in {
            "members_who": _("Members who meet"),
            "all": _("all of these conditions (AND)"),
            "any": _("any of these conditions (OR)"),
            "and": _("AND"),
            "or": _("OR"),
            "add_condition": _("+ Add a condition"),
            "add_group": _("+ Add a group"),
            "remove": _("Remove"),
            "remove_group": _("Remove the group"),
            "empty": _("No condition yet: add one."),
            "add_first": _("Add a condition to see how many members match."),
            "is_any_of": _("is any of"),
            "at_least": _("at least"),
            "at_most": _("at most"),
            "between": _("between"),
            "and_word": pgettext_lazy("between one number and another", "and"),
            "no_options": _("Nothing to choose yet."),
            "counting": _("Counting…"),
            "people": pgettext_lazy("a number of members", "members"),
            "failed": _("The count failed: try again."),
            "unknown": _("Unknown condition:"),
        }.items()
    }


def _classes() -> dict[str, str]:
    """The theme's classes for the builder's boxes (none without a theme)."""

    def of(widget):
        return style_widget(widget).attrs.get("class", "")

    return {
        "input": of(forms.TextInput()),
        "select": of(forms.Select()),
        "checkbox": of(forms.CheckboxInput()),
        "button": "sb-btn",
        "button_light": "sb-btn sb-btn-light",
    }


def describe(rules, specs: list[dict] | None = None) -> str:
    """A rule tree in words, for a page that only shows it:
    ``会员满足以下全部条件（并且）：最近 90 天内购买过；积分余额 不少于 1,000 积分``."""
    by_field = {s["field"]: s for s in (specs or field_specs())}
    words = texts()

    def leaf(node) -> str:
        spec, value = by_field.get(node.get("field")), node.get("value")
        if spec is None:
            return f"{words['unknown']} {node.get('field')}"
        label, unit = spec["label"], spec.get("unit", "")
        if spec["type"] == "choices":
            names = {str(v): name for v, name in spec["options"]}
            return f"{label}：" + "、".join(names.get(str(v), str(v)) for v in value or [])
        if spec["type"] == "days":
            return label.replace("N", f" {value} ") if "N" in label else f"{label}：{value} {unit}"
        if spec["type"] == "range":
            scale = spec.get("scale", 1)

            def number(key):
                amount = value.get(key) / scale
                return f"{amount:,.2f}" if scale != 1 else f"{int(amount):,}"

            if "min" in value and "max" in value:
                return (
                    f"{label} {words['between']} {number('min')} {words['and_word']} {number('max')} {unit}"
                )
            key = "min" if "min" in value else "max"
            return f"{label} {words['at_least' if key == 'min' else 'at_most']} {number(key)} {unit}"
        return f"{label} {value}"

    def group(node, top: bool) -> str:
        if not isinstance(node, dict):
            return "—"
        if "field" in node:
            return leaf(node)
        parts = "；".join(group(c, False) for c in node.get("conditions") or [])
        head = words["any" if node.get("op") == "or" else "all"]
        return f"{words['members_who']}{head}：{parts}" if top else f"（{head}：{parts}）"

    return group(rules, True).replace("  ", " ").strip()


class SegmentBuilder(forms.HiddenInput):
    """The rule tree in a hidden input, edited by the builder drawn beside it (with the live count)."""

    is_hidden = False  # the input is, the builder is not: the admin gives the field its row and label

    class Media:
        js = ["loyalty/segment_builder.js"]
        css = {"all": ["loyalty/forms.css"]}

    def render(self, name, value, attrs=None, renderer=None):
        hidden = super().render(name, value, attrs, renderer)
        box_id = (attrs or {}).get("id") or f"id_{name}"
        return format_html(
            '{}<div class="sb" data-for="{}" data-fields="{}" data-texts="{}" data-classes="{}" data-count-url="{}">'
            '<div class="sb-tree"></div>'
            '<div class="sb-count" aria-live="polite"><span>{}</span>'
            '<strong class="sb-count-value">—</strong><span class="sb-count-note"></span></div>'
            "<noscript><p>{}</p></noscript></div>",
            hidden,
            box_id,
            json.dumps(field_specs(), ensure_ascii=False),
            json.dumps(texts(), ensure_ascii=False),
            json.dumps(_classes()),
            reverse("admin:analytics_segment_preview"),
            _("Estimated members"),
            _("The conditions are edited in the browser: turn JavaScript on."),
        )
