from cron_descriptor import ExpressionDescriptor as CronDescriptor
from cron_descriptor import Options as CronOptions
from cron_descriptor.Exception import FormatException, MissingFieldException, WrongArgumentException
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django_celery_beat import admin as beat_admin
from django_celery_beat import models as beat
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from loyalty import services
from loyalty.admin_tools import ModelAdmin, labelled_filter, local_time, rows_table
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


#: The four permissions Django makes for every model; their stored names are English ("Can add member tag").
PERMISSION_ACTIONS = {
    "add": pgettext_lazy("permission", "add"),
    "change": pgettext_lazy("permission", "change"),
    "delete": pgettext_lazy("permission", "delete"),
    "view": pgettext_lazy("permission", "view"),
}


def permission_text(permission) -> str:
    """A permission as an operator reads it: the page's name (the model's verbose name, translated) and
    what it allows, rather than its stored English name."""
    model = permission.content_type.model_class()
    if model is None:
        return gettext(permission.name)
    action, _sep, model_name = permission.codename.partition("_")
    if action in PERMISSION_ACTIONS and model_name == model._meta.model_name:
        allows = str(PERMISSION_ACTIONS[action])
    else:  # a permission of the model's own (Meta.permissions), named by a translated text
        allows = gettext(permission.name)
    return f"{model._meta.app_config.verbose_name} | {model._meta.verbose_name} | {allows}"


class PermissionsInWordsMixin:
    """The permission pickers of the user and group pages list permissions by ``permission_text``, and only
    those of the back office's pages (the bookkeeping tables, nonces, tokens…, have no page to allow)."""

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name in ("permissions", "user_permissions"):
            pages = ContentType.objects.get_for_models(*self.admin_site._registry).values()
            field.queryset = field.queryset.filter(content_type__in=pages).select_related("content_type")
            field.label_from_instance = permission_text
        return field


@admin.register(User)
class UserAdmin(PermissionsInWordsMixin, auth_admin.UserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


@admin.register(Group)
class GroupAdmin(PermissionsInWordsMixin, auth_admin.GroupAdmin, ModelAdmin):
    pass


CronError = (FormatException, MissingFieldException, WrongArgumentException)


def schedule_text(schedule) -> str:
    """A beat schedule as an operator reads it: a crontab in words (cron_descriptor's Chinese, the
    library beat itself uses for its English text), an interval as beat words it; never ``17 * * * *
    (m/h/dM/MY/d) Asia/Shanghai``."""
    if schedule is None:
        return "—"
    if isinstance(schedule, beat.CrontabSchedule):
        expression = " ".join(
            [
                schedule.minute,
                schedule.hour,
                schedule.day_of_month,
                schedule.month_of_year,
                schedule.day_of_week,
            ]
        )
        options = CronOptions()
        options.locale_code = "zh_CN" if get_language().startswith("zh") else "en_US"
        options.use_24hour_time_format = True
        options.day_of_week_start_index_zero = True
        try:
            text = CronDescriptor(expression, options).get_description()
        except CronError:
            return expression
        for english, chinese in WEEKDAYS.items():
            text = text.replace(english, str(chinese))
        return text
    return str(schedule)


#: cron_descriptor's Chinese still names the weekdays in English.
WEEKDAYS = {
    "Monday": _("Monday"),
    "Tuesday": _("Tuesday"),
    "Wednesday": _("Wednesday"),
    "Thursday": _("Thursday"),
    "Friday": _("Friday"),
    "Saturday": _("Saturday"),
    "Sunday": _("Sunday"),
}


def schedule_name_text(name: str) -> str:
    """A schedule's name: the default schedules are named by an English key (loyalty/schedules.py keeps
    them by it), shown in the operator's language; a schedule an operator named reads as typed."""
    return gettext(name) if name in DEFAULT_NAMES else name


DEFAULT_NAMES = {schedule.name for schedule in DEFAULT_SCHEDULES}


def jobs_on(schedule) -> str:
    """The jobs a schedule runs, by their names, each a link to its page (rather than beat's inline, which
    titles each row with the job's ``str``: its English key and its cron expression)."""
    tasks = list(schedule.periodictask_set.order_by("name")) if schedule.pk else []
    if not tasks:
        return "—"
    return format_html_join(
        mark_safe("<br>"),
        '<a href="{}" class="text-primary-600">{}</a>（{}）',
        (
            (
                reverse("admin:django_celery_beat_periodictask_change", args=[task.pk]),
                schedule_name_text(task.name),
                gettext("enabled") if task.enabled else gettext("disabled"),
            )
            for task in tasks
        ),
    )


class _Titled:
    """An object as the change page's templates use it, read as ``title`` (the header's breadcrumb prints
    the object itself)."""

    def __init__(self, obj, title):
        self._obj, self._title = obj, title

    def __getattr__(self, name):
        return getattr(self._obj, name)

    def __str__(self):
        return str(self._title)


class ScheduleTitleMixin:
    """The change page names the object in words (beat's ``str`` is an English key and a cron expression)."""

    def title_of(self, obj) -> str:
        raise NotImplementedError

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None:
            title = self.title_of(obj)
            extra_context = {**(extra_context or {}), "subtitle": title, "original": _Titled(obj, title)}
        return super().change_view(request, object_id, form_url, extra_context)


for model in (
    beat.PeriodicTask,
    beat.IntervalSchedule,
    beat.CrontabSchedule,
    beat.SolarSchedule,
    beat.ClockedSchedule,
):
    admin.site.unregister(model)


class ScheduleChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return schedule_text(obj)


class PeriodicTaskForm(forms.ModelForm):
    """The job picked by its name among the scheduled jobs (not a Python path typed or picked from every
    registered task); the arguments, queues and routing stay as loyalty/schedules.py wrote them."""

    job = forms.ChoiceField(label=_("task"), choices=())

    class Meta:
        model = beat.PeriodicTask
        fields = ["name", "enabled", "crontab", "interval", "start_time", "one_off"]
        help_texts = {
            "enabled": _("Untick to stop the job without deleting it."),
            "one_off": _("Run the job once, at the next time of its schedule, then disable it."),
        }
        field_classes = {"crontab": ScheduleChoiceField, "interval": ScheduleChoiceField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        tasks = [schedule.task for schedule in DEFAULT_SCHEDULES]
        if self.instance.task and self.instance.task not in tasks:
            tasks.append(self.instance.task)
        labels = task_labels(tasks)
        self.fields["job"].choices = [("", "---------")] + [(task, labels.get(task, task)) for task in tasks]
        self.fields["job"].initial = self.instance.task

    def clean(self):
        data = super().clean()
        self.instance.task = data.get("job") or self.instance.task
        return data


@admin.register(beat.PeriodicTask)
class PeriodicTaskAdmin(ScheduleTitleMixin, ModelAdmin):
    """The jobs' schedules (loyalty/schedules.py writes them); under 系统设置, for administrators.

    Shown by the job's name and its schedule in words; beat's own page (arguments as JSON, queues,
    routing keys, Python paths) is for engineers, who change those in loyalty/schedules.py.
    """

    form = PeriodicTaskForm
    list_display = ["name_text", "schedule", "enabled", "last_run_at", "total_run_count"]
    list_filter = ["enabled", labelled_filter("task", _("task"), task_labels)]
    search_fields = ["name", "task"]
    ordering = ["name"]
    actions = ["enable_tasks", "disable_tasks"]

    def get_fields(self, request, obj=None):
        # The default schedules are found by their name (loyalty/schedules.py): not renamed here.
        head = ["name_text"] if obj else ["name"]
        return [*head, "job", "enabled", "crontab", "interval", "start_time", "one_off", "last_run"]

    def get_readonly_fields(self, request, obj=None):
        return ["name_text", "last_run"]

    @admin.display(description=_("last run"))
    def last_run(self, task):
        return local_time(task.last_run_at) if task.last_run_at else "—"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("interval", "crontab", "solar", "clocked")

    def title_of(self, task):
        return schedule_name_text(task.name)

    @admin.display(description=_("job"), ordering="name")
    def name_text(self, task):
        return schedule_name_text(task.name)

    @admin.display(description=_("task"), ordering="task")
    def task_text(self, task):
        return task_labels([task.task]).get(task.task, task.task)

    @admin.display(description=_("schedule"))
    def schedule(self, task):
        return schedule_text(task.crontab or task.interval or task.clocked or task.solar)

    @admin.action(description=_("Enable the selected jobs"), permissions=["change"])
    def enable_tasks(self, request, queryset):
        beat.PeriodicTask.objects.filter(pk__in=queryset.values("pk")).update(enabled=True)
        beat.PeriodicTasks.update_changed()

    @admin.action(description=_("Disable the selected jobs"), permissions=["change"])
    def disable_tasks(self, request, queryset):
        beat.PeriodicTask.objects.filter(pk__in=queryset.values("pk")).update(enabled=False)
        beat.PeriodicTasks.update_changed()


class CrontabScheduleForm(forms.ModelForm):
    class Meta:
        model = beat.CrontabSchedule
        fields = ["minute", "hour", "day_of_month", "month_of_year", "day_of_week"]
        help_texts = {
            "minute": _('Minutes of the hour, 0–59; "*" for every minute, "*/5" for every 5 minutes.'),
            "hour": _('Hours of the day, 0–23; "*" for every hour, "8,20" for 8:00 and 20:00.'),
            "day_of_month": _('Days of the month, 1–31; "*" for every day.'),
            "month_of_year": _('Months, 1–12; "*" for every month.'),
            "day_of_week": _('Days of the week, 0–6 (0 is Sunday, 1 Monday); "*" for every day.'),
        }


@admin.register(beat.CrontabSchedule)
class CrontabScheduleAdmin(ScheduleTitleMixin, ModelAdmin):
    """Times of day, in the merchant's time zone (TIME_ZONE), by their words."""

    form = CrontabScheduleForm
    list_display = ["schedule_text"]
    readonly_fields = ["schedule_text", "jobs"]

    def get_fields(self, request, obj=None):
        head = ["schedule_text"] if obj else []
        tail = ["jobs"] if obj else []
        return [*head, "minute", "hour", "day_of_month", "month_of_year", "day_of_week", *tail]

    def title_of(self, crontab):
        return schedule_text(crontab)

    @admin.display(description=_("Jobs on this schedule"))
    def jobs(self, schedule):
        return jobs_on(schedule)

    @admin.display(description=_("schedule"))
    def schedule_text(self, crontab):
        return schedule_text(crontab)


@admin.register(beat.IntervalSchedule)
class IntervalScheduleAdmin(ScheduleTitleMixin, ModelAdmin):
    list_display = ["schedule_text"]
    readonly_fields = ["jobs"]

    def get_fields(self, request, obj=None):
        return ["every", "period", "jobs"] if obj else ["every", "period"]

    def title_of(self, interval):
        return schedule_text(interval)

    @admin.display(description=_("Jobs on this schedule"))
    def jobs(self, schedule):
        return jobs_on(schedule)

    @admin.display(description=_("schedule"))
    def schedule_text(self, interval):
        return schedule_text(interval)


@admin.register(beat.SolarSchedule)
class SolarScheduleAdmin(beat_admin.SolarScheduleAdmin, ModelAdmin):
    """Not in the sidebar (our jobs run by the clock); registered so beat's links to it resolve."""

    inlines = []  # beat's lists each job by its English key and cron expression


@admin.register(beat.ClockedSchedule)
class ClockedScheduleAdmin(beat_admin.ClockedScheduleAdmin, ModelAdmin):
    """Not in the sidebar (our jobs repeat); registered so beat's links to it resolve."""

    inlines = []  # beat's lists each job by its English key and cron expression
