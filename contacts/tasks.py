from contacts.importing import service
from fluenzr.celery import task


# Idempotent (the run is claimed queued → running), so a redelivery after a crash is safe.
@task(name="contacts.import_run", queue="default", acks_late=True)
def import_run(import_id: str) -> None:
    service.import_run(import_id=import_id)


@task(name="contacts.imports_requeue_stalled", queue="scheduler")
def imports_requeue_stalled() -> int:
    return service.imports_requeue_stalled()
