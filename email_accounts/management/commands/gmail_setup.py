"""Print what to enter in Google Cloud for the Gmail OAuth client, and whether it is set."""

from django.conf import settings
from django.core.management.base import BaseCommand

from email_accounts.selectors import GMAIL_SCOPES
from email_accounts.services import gmail_configured, gmail_redirect_uri


class Command(BaseCommand):
    help = "Print the redirect URI and scopes to register for Gmail's OAuth client."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"Authorised redirect URI: {gmail_redirect_uri()}")
        self.stdout.write("Scopes: " + " ".join(GMAIL_SCOPES))
        if gmail_configured():
            self.stdout.write(f"Client id in use: {settings.GOOGLE_OAUTH_CLIENT_ID}")
        else:
            self.stdout.write(
                "GOOGLE_OAUTH_CLIENT_ID and GOOGLE_OAUTH_CLIENT_SECRET are not set: "
                "“+ Gmail” explains this to users until they are."
            )
