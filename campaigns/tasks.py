"""Thin Celery wrappers: ids in, one engine call each."""

from __future__ import annotations

from campaigns.engine import scheduler, sender, sweeper
from fluenzr.celery import task


def enqueue_send(message_id) -> None:
    message_send.delay(str(message_id))


@task(name="campaigns.scheduler_tick", queue="scheduler")
def scheduler_tick() -> int:
    return scheduler.scheduler_tick(enqueue=enqueue_send)


# Not acks_late: a redelivered send must not run after a crash mid-send; the sweeper's
# lease and Sent-folder reconciliation handle that case instead.
@task(name="campaigns.message_send", queue="sending")
def message_send(message_id: str) -> str:
    return sender.message_send(message_id=message_id)


@task(name="campaigns.sweep", queue="scheduler")
def sweep() -> dict[str, int]:
    return {
        "requeued": sweeper.requeue_scheduled(enqueue=enqueue_send),
        "unknown": sweeper.expire_sending(),
        "reconciled": sweeper.reconcile_unknown(),
    }
