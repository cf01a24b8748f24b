"""The Celery app. Every task names itself and its queue (DESIGN.md §2)."""

import os
from collections.abc import Callable
from typing import Any

from celery import Celery, shared_task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fluenzr.settings")

app = Celery("fluenzr")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Each task's queue, declared beside the task by `task()` below.
TASK_QUEUES: dict[str, str] = {}


def task(*, name: str, queue: str, **options: Any) -> Callable:
    """`shared_task` with its name and queue said where the task is written. The queue is
    applied through `task_routes` (Celery 6 drops the task's own `queue` attribute)."""
    TASK_QUEUES[name] = queue
    return shared_task(name=name, **options)


def _route(name: str, *args: Any, **kwargs: Any) -> dict[str, str] | None:
    queue = TASK_QUEUES.get(name)
    return {"queue": queue} if queue else None


app.conf.task_routes = (_route,)


@app.on_after_configure.connect
def _ensure_filesystem_broker_folders(sender: Celery, **kwargs: object) -> None:
    # kombu's file-system transport (the embedded default) needs its folders to exist.
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)
