from django.utils import timezone

from fluenzr.celery import task
from fluenzr.models import IdempotencyRecord


@task(name="fluenzr.idempotency_purge", queue="scheduler")
def idempotency_purge() -> int:
    deleted, _detail = (
        IdempotencyRecord.objects.unscoped()  # a cross-tenant sweep
        .filter(expires_at__lte=timezone.now())
        .delete()
    )
    return deleted
