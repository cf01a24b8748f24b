from email_accounts import services
from fluenzr.celery import task


@task(name="email_accounts.mailboxes_resume_due", queue="scheduler")
def mailboxes_resume_due() -> int:
    """Mailboxes paused by their provider's quota send again once the pause runs out."""
    return services.mailboxes_resume_due()
