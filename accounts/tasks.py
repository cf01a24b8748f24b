from accounts import services
from fluenzr.celery import task


@task(name="accounts.invitations_expire", queue="scheduler")
def invitations_expire() -> int:
    return services.invitations_expire()
