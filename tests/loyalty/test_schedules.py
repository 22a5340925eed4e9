import pytest
from django_celery_beat.models import PeriodicTask

from loyalty.celery import app as celery_app
from loyalty.schedules import DEFAULT_SCHEDULES, ensure_default_schedules


@pytest.mark.django_db
def test_migrate_creates_every_default_schedule_for_a_registered_task():
    names = set(PeriodicTask.objects.values_list("name", flat=True))

    assert {s.name for s in DEFAULT_SCHEDULES} <= names
    celery_app.loader.import_default_modules()
    for schedule in DEFAULT_SCHEDULES:
        assert schedule.task in celery_app.tasks


def test_every_scheduled_task_runs_once_per_period_however_many_beats_fire_it():
    celery_app.loader.import_default_modules()
    unguarded = [
        s.task
        for s in DEFAULT_SCHEDULES
        if not getattr(celery_app.tasks[s.task].run, "once_per_period", False)
    ]

    assert unguarded == [], "decorate these with loyalty.jobs.once_per_period"


@pytest.mark.django_db
def test_an_operators_change_to_a_schedule_survives_the_next_migrate():
    task = PeriodicTask.objects.get(name=DEFAULT_SCHEDULES[0].name)
    task.enabled = False
    task.save()

    assert ensure_default_schedules() == 0

    assert PeriodicTask.objects.get(pk=task.pk).enabled is False
