"""Thin Celery wrappers: ids in, one engine call each."""

from __future__ import annotations

from dataclasses import asdict

from campaigns.engine import scheduler, sender, sweeper
from campaigns.inbound import effects as inbound_effects
from campaigns.inbound import sync as inbound_sync
from campaigns.tracking import services as tracking_services
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


@task(name="campaigns.enrollments_resume_due", queue="scheduler")
def enrollments_resume_due() -> int:
    """Contacts paused by an out-of-office reply whose pause has run out."""
    return inbound_effects.enrollments_resume_due()


@task(name="campaigns.tracking_flush", queue="scheduler")
def tracking_flush() -> int:
    """Opens and clicks waiting in Redis, into the database."""
    return tracking_services.tracking_flush()


def enqueue_sync(mailbox_id) -> None:
    mailbox_sync.delay(str(mailbox_id))


@task(name="campaigns.mailboxes_sync_due", queue="scheduler")
def mailboxes_sync_due() -> int:
    return inbound_sync.mailboxes_sync_due(enqueue=enqueue_sync)


@task(name="campaigns.mailbox_sync", queue="sync")
def mailbox_sync(mailbox_id: str) -> dict[str, object]:
    return asdict(inbound_sync.mailbox_sync(mailbox_id=mailbox_id))
