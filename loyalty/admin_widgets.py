"""The theme's look for widgets it did not choose (kept apart from admin_tools: template tags import it)."""

from django import forms
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from unfold import widgets as unfold_widgets

_FILE_CLASSES = [*unfold_widgets.BASE_CLASSES, "px-3", "py-1.5", "max-w-2xl", "w-full"]


def style_widget(widget: forms.Widget) -> forms.Widget:
    """Gives a widget without CSS classes the theme's classes for its kind, and returns it.

    The theme styles the widgets it picks for model fields; a field a form
    declares (``forms.CharField(...)`` on a plain form or a model form) keeps
    Django's bare widget, which the theme's reset stylesheet would leave
    without a border.  Widgets that already carry classes are left alone.
    """
    if isinstance(widget, RelatedFieldWidgetWrapper):
        style_widget(widget.widget)
        return widget
    if isinstance(widget, forms.MultiWidget):
        for part in widget.widgets:
            style_widget(part)
        return widget
    if widget.attrs.get("class") or getattr(widget, "input_type", None) == "hidden":
        return widget
    if isinstance(widget, forms.CheckboxSelectMultiple):  # a RadioSelect subclass: ticked boxes, not dots
        classes = unfold_widgets.CHECKBOX_CLASSES
    elif isinstance(widget, forms.RadioSelect):
        classes = unfold_widgets.RADIO_CLASSES
    elif isinstance(widget, forms.Select):  # SelectMultiple too
        classes = unfold_widgets.SELECT_CLASSES
    elif isinstance(widget, forms.CheckboxInput):
        classes = unfold_widgets.CHECKBOX_CLASSES
    elif isinstance(widget, forms.Textarea):
        classes = unfold_widgets.TEXTAREA_CLASSES
    elif isinstance(widget, forms.FileInput):
        classes = _FILE_CLASSES
    elif isinstance(widget, forms.widgets.Input):
        classes = unfold_widgets.INPUT_CLASSES
    else:
        return widget
    widget.attrs["class"] = " ".join(classes)
    return widget
