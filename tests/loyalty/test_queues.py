"""Every task goes to the queue chosen for it in loyalty/queues.py, and the docs say the same."""

import re

from django.conf import settings

from loyalty.celery import app as celery_app
from loyalty.queues import BULK, DEFAULT, QUEUE_OF_TASK, VALUE


def project_tasks() -> set[str]:
    celery_app.loader.import_default_modules()
    return {name for name in celery_app.tasks if not name.startswith("celery.")}


def routed_queue(task: str) -> str:
    return celery_app.amqp.router.route({}, task)["queue"].name


def test_every_task_of_the_project_is_routed_to_the_queue_its_table_names():
    unrouted = sorted(project_tasks() - set(QUEUE_OF_TASK))

    assert unrouted == [], "add these to loyalty/queues.py::QUEUE_OF_TASK (value, bulk or the default)"
    assert {task: routed_queue(task) for task in project_tasks()} == QUEUE_OF_TASK


def test_the_table_names_no_task_that_does_not_exist():
    assert sorted(set(QUEUE_OF_TASK) - project_tasks()) == []


def test_refunds_and_messages_go_to_value_and_a_bulk_issue_to_bulk():
    assert routed_queue("payments.submit_refund") == VALUE
    assert routed_queue("notifications.send_wechat") == VALUE
    assert routed_queue("coupons.run_bulk_issue") == BULK
    assert routed_queue("analytics.refresh_reports") == BULK


def test_only_housekeeping_and_celerys_own_tasks_are_left_on_the_default_queue():
    assert [task for task, queue in QUEUE_OF_TASK.items() if queue == DEFAULT] == ["loyalty.purge_expired"]
    assert routed_queue("celery.backend_cleanup") == DEFAULT


def test_a_worker_started_without_a_queue_list_consumes_all_three():
    assert {queue.name for queue in celery_app.conf.task_queues} == {VALUE, BULK, DEFAULT}


def test_the_architecture_doc_lists_every_task_under_its_queue():
    text = (settings.BASE_DIR / "docs" / "architecture.md").read_text()
    section = text.split("## Queues", 1)[1].split("\n## ", 1)[0]
    documented = {}
    for row in re.findall(r"^\| `(\w+)` \|.*$", section, flags=re.M):
        line = next(line for line in section.splitlines() if line.startswith(f"| `{row}` |"))
        tasks_cell = line.split("|")[-2]
        for task in re.findall(r"`([\w.]+)`", tasks_cell):
            documented[task] = row

    assert documented == QUEUE_OF_TASK
