"""Thin Celery wrappers around the delivery engine (webhooks.delivery)."""

from __future__ import annotations

from fluenzr.celery import task
from webhooks import delivery


@task(name="webhooks.fan_out", queue="webhooks")
def fan_out() -> int:
    """Turn new events into deliveries, batch after batch until the outbox is drained."""
    total = 0
    while count := delivery.events_fan_out():
        total += count
    return total


@task(name="webhooks.deliver_due", queue="webhooks")
def deliver_due() -> int:
    return delivery.deliver_due()
