"""Admin forms an operator fills in, not JSON: kind-dependent fields, lists one per line, keyword rows.

``KindFormMixin`` shows only the fields of the chosen kind (``static/loyalty/kinds.js`` hides the
others and leaves them out of the post) and refuses, server-side, a field that does not belong to
it, so a form posted without the script is validated the same.  ``LinesField`` takes a list one
per line; ``PairsField`` a mapping as rows of two boxes.  What is stored keeps its JSON shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from django import forms
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from loyalty.admin_widgets import style_widget

EMPTY = (None, "", [], (), {}, False, 0)


class KindFormMixin:
    """A ModelForm whose fields depend on the value of a choice (a "switch": kind, validity, scope …).

    ``kinds`` maps each switch to ``{choice: [the fields that belong to it]}``; a field named under
    some choice of a switch and not under the chosen one does not belong.  Switches are applied in
    order, so a later switch may itself belong to a choice of an earlier one (a card's condition
    belongs to conditional cards only).  ``kind_blocks`` names, the same way, page blocks to show or
    hide, such as an inline's group (``tiers-group``).  A field that does not belong must be empty
    (or its default): it is then stored as its default.  A field that belongs and that the form
    would require is required.  Values the form derives for model fields it does not show itself
    (``derive``) are written to the instance before the model is validated.
    """

    kinds: dict[str, dict[str, list[str]]] = {}
    kind_blocks: dict[str, dict[str, list[str]]] = {}

    class Media:
        js = ["loyalty/kinds.js"]
        css = {"all": ["loyalty/forms.css"]}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.derived: dict[str, object] = {}
        self._stored = {
            f.name: getattr(self.instance, f.attname) for f in self._meta.model._meta.concrete_fields
        }
        self._needed = {}
        for switch, choices in self.kinds.items():
            if switch in self.fields:
                attrs = self.fields[switch].widget.attrs
                attrs["data-kind-switch"] = json.dumps(choices)
                if switch in self.kind_blocks:
                    attrs["data-kind-blocks"] = json.dumps(self.kind_blocks[switch])
            for name in self.conditional(switch):
                if name in self.fields:
                    self._needed[name] = self.fields[name].required
                    self.fields[name].required = False

    @classmethod
    def conditional(cls, switch: str) -> set[str]:
        return {name for names in cls.kinds[switch].values() for name in names}

    @classmethod
    def not_belonging(cls, obj) -> set[str]:
        """The fields that do not belong to the kinds ``obj`` has (for a page that only shows it)."""
        out: set[str] = set()
        for switch, choices in cls.kinds.items():
            chosen = None if switch in out else getattr(obj, switch, None)
            out |= cls.conditional(switch) - set(choices.get(chosen, ()))
        return out

    def kind_value(self, switch: str):
        """The chosen value of ``switch``: the cleaned one, or the instance's when the form lacks it."""
        if switch in self.fields:
            return self.cleaned_data.get(switch)
        return getattr(self.instance, switch, None)

    def belongs(self, name: str) -> bool:
        """Whether field ``name`` belongs to the kinds chosen (a field no switch names always does)."""
        for switch, choices in self.kinds.items():
            if name in self.conditional(switch):
                return name in choices.get(self.kind_value(switch), ())
        return True

    def default(self, name: str):
        """What a field that does not belong is stored as: the model field's default, else empty."""
        try:
            return self._meta.model._meta.get_field(name).get_default()
        except FieldDoesNotExist:
            return [] if isinstance(self.fields[name], forms.MultipleChoiceField) else None

    def blank(self, name: str, value) -> bool:
        return value in EMPTY or value == self.default(name)

    def clean(self):
        data = super().clean()
        for switch, choices in self.kinds.items():
            chosen = self.kind_value(switch)
            if switch in self.fields and switch not in data:
                continue  # the switch itself has an error
            label = dict(self.fields[switch].choices).get(chosen, chosen) if switch in self.fields else chosen
            for name in sorted(self.conditional(switch) & set(self.fields), key=list(self.fields).index):
                if name in self._errors:
                    continue
                value = data.get(name)
                if name in choices.get(chosen, ()):
                    if self._needed[name] and value in EMPTY and value != 0:
                        self.add_error(name, self.fields[name].error_messages["required"])
                elif not self.blank(name, value):
                    self.add_error(
                        name,
                        _("“%(field)s” does not apply to %(choice)s: leave it empty.")
                        % {"field": self.fields[name].label, "choice": label},
                    )
                else:
                    data[name] = self.default(name)
        return data

    def derive(self, name: str, value) -> None:
        """Set model field ``name``, which the form does not show itself, from the form's own fields."""
        self.derived[name] = value

    def _post_clean(self):
        for name, value in self.derived.items():
            setattr(self.instance, name, value)
        super()._post_clean()

    def model_fields_changed(self) -> list[str]:
        """The model fields this form changes (for ``save(update_fields=…)``): the changed form fields
        that are model fields, and the derived fields whose value differs from the stored one."""
        opts = self._meta.model._meta
        names = []
        for name in self.changed_data:
            try:
                if opts.get_field(name).concrete:
                    names.append(name)
            except FieldDoesNotExist:
                continue
        return names + [n for n, v in self.derived.items() if n not in names and self._stored.get(n) != v]


def shown_fieldsets(model_admin, request, obj, fieldsets):
    """An admin's fieldsets where the operator may only read the object: the fields of its kinds only
    (``KindFormMixin``), and those the admin reads out itself (``read_only_displays``: name → a display
    function of the object, e.g. card types by name rather than a list of ids).  Where the object is
    edited, every field (the script hides what does not belong)."""
    form = model_admin.form
    if obj is None or model_admin.has_change_permission(request, obj):
        return fieldsets
    hidden = form.not_belonging(obj) if issubclass(form, KindFormMixin) else set()
    displays = getattr(model_admin, "read_only_displays", {})
    shown = []
    for title, options in fieldsets:
        fields = [displays.get(f, f) for f in options["fields"] if getattr(f, "__name__", f) not in hidden]
        if fields:
            shown.append((title, {**options, "fields": fields}))
    return shown


def read_only_display(name: str, label, show: Callable):
    """A display function standing for field ``name`` in ``read_only_displays``: ``show(obj)`` under ``label``."""

    def display(obj):
        return show(obj)

    display.__name__ = name
    display.short_description = label
    return display


# --- lists, one per line ---------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\r\n,，、;；]+")


class LinesField(forms.CharField):
    """A list of short texts typed one per line (commas, 、 and ; also separate); stored as a JSON list.

    Blanks and repeats are dropped, the order kept.  ``item`` validates each entry (a URL, a SKU …).
    """

    widget = forms.Textarea

    def __init__(
        self, *, max_items: int = 500, max_item_length: int = 64, item: Callable | None = None, **kwargs
    ):
        self.max_items, self.max_item_length, self.item = max_items, max_item_length, item
        self.separators = kwargs.pop("separators", _SEPARATORS)
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("rows", 4)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(str(v) for v in value)
        return value

    def to_python(self, value) -> list[str]:
        if isinstance(value, list | tuple):
            return [str(v) for v in value]
        items = []
        for part in self.separators.split(value or ""):
            text = part.strip()
            if text and text not in items:
                items.append(text)
        return items

    def validate(self, value):
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")
        if len(value) > self.max_items:
            raise ValidationError(_("At most %(n)s lines."), code="max_items", params={"n": self.max_items})
        for text in value:
            if len(text) > self.max_item_length:
                raise ValidationError(
                    _("“%(text)s” is longer than %(n)s characters."),
                    code="max_length",
                    params={"text": text, "n": self.max_item_length},
                )
            if self.item:
                self.item(text)

    def run_validators(self, value):
        pass  # CharField's length validators would measure the list, not its entries

    def has_changed(self, initial, data):
        return self.to_python(initial if initial is not None else "") != self.to_python(data)


# --- a mapping as rows of two boxes ------------------------------------------------------------------


def _natural(key: str):
    """``thing1`` < ``number2`` < ``date3`` (by the number a template keyword ends with), ``3`` < ``10``."""
    match = re.search(r"(\d+)$", key)
    return (int(match.group(1)) if match else 0, key)


class PairsWidget(forms.Widget):
    """Rows of two boxes (a keyword and its text, a day and its points) with a button to add a row.

    Without the script the page still shows the saved rows and ``blank_rows`` empty ones.
    """

    blank_rows = 2

    class Media:
        js = ["loyalty/pairs.js"]
        css = {"all": ["loyalty/forms.css"]}

    def __init__(self, *, key_label, value_label, key_attrs=None, value_attrs=None, attrs=None):
        self.key_label, self.value_label = key_label, value_label
        self.key_attrs, self.value_attrs = key_attrs or {}, value_attrs or {}
        super().__init__(attrs)

    def format_value(self, value):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = {}
        if isinstance(value, dict):
            rows = [(str(k), "" if v is None else str(v)) for k, v in value.items()]
            return sorted(rows, key=lambda row: _natural(row[0]))  # jsonb keeps no order: thing1 before date3
        return list(value or [])

    def value_from_datadict(self, data, files, name):
        if not hasattr(data, "getlist"):  # a plain dict (a test): one row
            return [(data.get(f"{name}_key", ""), data.get(f"{name}_value", ""))]
        keys, values = data.getlist(f"{name}_key"), data.getlist(f"{name}_value")
        return list(zip(keys, values, strict=False))

    def value_omitted_from_data(self, data, files, name):
        return f"{name}_key" not in data

    def render(self, name, value, attrs=None, renderer=None):
        rows = self.format_value(value) + [("", "")] * self.blank_rows

        def box(field, text, extra):
            return style_widget(forms.TextInput(extra)).render(f"{name}_{field}", text, {}, renderer)

        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td></tr>",
            ((box("key", k, self.key_attrs), box("value", v, self.value_attrs)) for k, v in rows),
        )
        return format_html(
            '<table class="lo-pairs" id="{}"><thead><tr><th>{}</th><th>{}</th></tr></thead>'
            '<tbody>{}</tbody></table><button type="button" class="lo-pairs-add lo-btn">{}</button>',
            (attrs or {}).get("id", ""),
            self.key_label,
            self.value_label,
            body,
            _("Add a row"),
        )


class PairsField(forms.Field):
    """A mapping typed as rows (``PairsWidget``): each row's key and value are cleaned by ``key`` and
    ``value`` (form fields); blank rows are skipped, half-filled rows and repeated keys refused."""

    def __init__(self, *, key: forms.Field, value: forms.Field, key_label, value_label, **kwargs):
        self.key_field, self.value_field = key, value
        kwargs.setdefault("widget", PairsWidget(key_label=key_label, value_label=value_label))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return value

    def to_python(self, value) -> dict:
        if isinstance(value, dict):
            return value
        out, errors = {}, []
        for number, (raw_key, raw_value) in enumerate(value or [], start=1):
            raw_key, raw_value = str(raw_key).strip(), str(raw_value).strip()
            if not raw_key and not raw_value:
                continue
            if not raw_key or not raw_value:
                errors.append(_("Row %(n)s: fill in both boxes, or neither.") % {"n": number})
                continue
            try:
                key, item = self.key_field.clean(raw_key), self.value_field.clean(raw_value)
            except ValidationError as exc:
                errors.extend(_("Row %(n)s: %(problem)s") % {"n": number, "problem": m} for m in exc.messages)
                continue
            if str(key) in out:
                errors.append(_("Row %(n)s: %(key)s is there twice.") % {"n": number, "key": key})
                continue
            out[str(key)] = item  # a JSON object's keys are text
        if errors:
            raise ValidationError(errors)
        return out

    def validate(self, value):
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")

    def has_changed(self, initial, data):
        try:
            return self.to_python(data) != (initial or {})
        except ValidationError:
            return True
