from celery import shared_task

from accounts import services


@shared_task(name="accounts.invitations_expire", queue="scheduler")
def invitations_expire() -> int:
    return services.invitations_expire()
