from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, User
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django_celery_beat import admin as beat_admin
from django_celery_beat import models as beat
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from loyalty import services
from loyalty.admin_tools import ModelAdmin, TabularInline, labelled_filter, rows_table
from loyalty.models import ApiClient, JobRun
from loyalty.schedules import DEFAULT_SCHEDULES

#: The named counts the jobs return (loyalty.purge_expired, members.recalculate_tiers,
#: notifications.send_due_wechat), as the job run's page shows them.
RESULT_LABELS = {
    "nonces": _("request nonces purged"),
    "idempotency_records": _("idempotency records purged"),
    "job_runs": _("job runs purged"),
    "memberships": _("memberships checked"),
    "changed": _("tiers changed"),
    "sent": _("messages sent"),
    "pending": _("messages to retry"),
    "failed": _("messages failed"),
}


def task_labels(tasks) -> dict[str, str]:
    """A scheduled task by the name of its default schedule, in the operator's language."""
    names = {schedule.task: schedule.name for schedule in DEFAULT_SCHEDULES}
    return {task: gettext(names[task]) for task in tasks if task in names}


@admin.register(ApiClient)
class ApiClientAdmin(ModelAdmin):
    """Credentials for the merchant's order system.

    The secret is generated here and shown once, in the confirmation message;
    it is stored encrypted and never displayed again (rotate to get a new one).
    """

    list_display = ["name", "key_id", "is_active", "created_at", "last_used_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "key_id"]
    readonly_fields = ["key_id", "created_at", "last_used_at"]
    actions = ["rotate_secret"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        secret = services.api_client_issue_secret(client=obj)
        messages.warning(
            request,
            _("Key ID %(key)s, secret %(secret)s — copy the secret now, it will not be shown again.")
            % {"key": obj.key_id, "secret": secret},
        )

    @admin.action(description=_("Rotate the secret of the selected clients"), permissions=["change"])
    def rotate_secret(self, request, queryset):
        for client in queryset:
            secret = services.api_client_issue_secret(client=client)
            self.log_change(request, client, _("Rotated the secret."))
            messages.warning(
                request, _("New secret for %(key)s: %(secret)s") % {"key": client.key_id, "secret": secret}
            )


@admin.register(JobRun)
class JobRunAdmin(ModelAdmin):
    """Each firing of a scheduled job and who ran it; read-only (``loyalty.jobs`` writes it).

    A row left ``running`` after its worker died is taken over by the next
    trigger of that period; deleting a ``done`` row lets beat's next trigger
    of that period run the job again.
    """

    list_display = [
        "task_text",
        "period_start",
        "status",
        "attempts",
        "duplicates",
        "started_at",
        "finished_at",
        "worker",
    ]
    list_filter = ["status", labelled_filter("task", _("task"), task_labels)]
    search_fields = ["task", "schedule"]
    date_hierarchy = "period_start"
    ordering = ["-period_start", "task"]
    fields = [
        "task_text",
        "period_start",
        "status",
        "attempts",
        "duplicates",
        "worker",
        "result_text",
        "error",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("task"), ordering="task")
    def task_text(self, run):
        return task_labels([run.task]).get(run.task, run.task)

    @admin.display(description=_("result"))
    def result_text(self, run):
        """What the job returned (a count, or a few named counts), never as JSON."""
        if isinstance(run.result, dict):
            return rows_table((RESULT_LABELS.get(key, key), count) for key, count in run.result.items())
        return "—" if run.result is None else run.result

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# The home page's title (the site's name and the sidebar come from settings.UNFOLD).
admin.site.index_title = pgettext_lazy("sidebar", "Home")


# --- users, groups and the beat schedules: the apps' own admin classes, in the theme -------------------

admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(auth_admin.UserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


@admin.register(Group)
class GroupAdmin(auth_admin.GroupAdmin, ModelAdmin):
    pass


class PeriodicTaskInline(beat_admin.PeriodicTaskInline, TabularInline):
    fields = readonly_fields = ("name", "task")  # not the arguments (_JSON_ARGUMENTS)


for model in (
    beat.PeriodicTask,
    beat.IntervalSchedule,
    beat.CrontabSchedule,
    beat.SolarSchedule,
    beat.ClockedSchedule,
):
    admin.site.unregister(model)


# The periodic task's fields typed as JSON; our jobs take no arguments, so they are not on its pages.
_JSON_ARGUMENTS = {"args", "kwargs", "headers"}


@admin.register(beat.PeriodicTask)
class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin, ModelAdmin):
    """The jobs' schedules (loyalty/schedules.py writes them); under 系统设置, for administrators."""

    fieldsets = [
        (title, {**options, "fields": [f for f in options["fields"] if f not in _JSON_ARGUMENTS]})
        for title, options in beat_admin.PeriodicTaskAdmin.fieldsets
        if set(options["fields"]) - _JSON_ARGUMENTS
    ]


@admin.register(beat.IntervalSchedule)
class IntervalScheduleAdmin(beat_admin.IntervalScheduleAdmin, ModelAdmin):
    inlines = [PeriodicTaskInline]


@admin.register(beat.CrontabSchedule)
class CrontabScheduleAdmin(beat_admin.CrontabScheduleAdmin, ModelAdmin):
    inlines = [PeriodicTaskInline]


@admin.register(beat.SolarSchedule)
class SolarScheduleAdmin(beat_admin.SolarScheduleAdmin, ModelAdmin):
    inlines = [PeriodicTaskInline]


@admin.register(beat.ClockedSchedule)
class ClockedScheduleAdmin(beat_admin.ClockedScheduleAdmin, ModelAdmin):
    inlines = [PeriodicTaskInline]
