"""Template helpers of the back office's own pages (templates/admin/**)."""

from django import template
from django.utils.html import format_html

from loyalty import db_router
from loyalty.admin_widgets import style_widget

register = template.Library()


@register.filter
def themed(bound_field):
    """A form field of our own pages, its widget in the theme's look (``style_widget``)."""
    style_widget(bound_field.field.widget)
    return bound_field


@register.simple_tag
def data_as_of():
    """When a replica-fed page's data is as of, or None on a page read from the primary
    (``admin/includes/data_as_of.html``)."""
    return db_router.data_as_of()


@register.simple_tag
def crumb(label, url=""):
    """One step of a page's trail in the header, as the theme draws its own (a link and a chevron)."""
    if not url:
        return format_html('<span class="{}">{}</span>', _CRUMB, label)
    return format_html(
        '<a class="{}" href="{}">{}</a><span class="{}">chevron_right</span>', _CRUMB, url, label, _SEP
    )


# The classes of the theme's own trail (unfold/helpers/header_title.html).
_CRUMB = "align-middle inline-block leading-5 min-w-0 truncate tracking-tight"
_SEP = "material-symbols-outlined inline-block align-middle leading-5 mx-2 text-base-400 dark:text-base-500"
