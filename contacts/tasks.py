from contacts.importing import service
from fluenzr.celery import task


# Idempotent (the run is claimed queued → running), so a redelivery after a crash is safe.
# Its own queue: a big import never holds up sending.
@task(name="contacts.import_run", queue="imports", acks_late=True)
def import_run(import_id: str) -> None:
    service.import_run(import_id=import_id)


@task(name="contacts.imports_requeue_stalled", queue="scheduler")
def imports_requeue_stalled() -> int:
    return service.imports_requeue_stalled()


@task(name="contacts.imports_discard_abandoned", queue="scheduler")
def imports_discard_abandoned() -> int:
    return service.imports_discard_abandoned()
