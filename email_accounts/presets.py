"""SMTP + IMAP settings of common hosts, so connecting is choosing a name and a password."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from email_accounts.providers.connection import Security


@dataclass(frozen=True)
class Preset:
    label: str | Promise
    smtp_host: str
    smtp_port: int
    smtp_security: str
    imap_host: str
    imap_port: int
    imap_security: str
    # The host files a copy of what its SMTP server sends in Sent (Gmail, Microsoft 365):
    # FluenzR must not file a second one.
    host_saves_sent: bool
    help: str | Promise = ""


PRESETS: dict[str, Preset] = {
    "gmail": Preset(
        _("Gmail / Google Workspace (App Password)"),
        "smtp.gmail.com", 465, Security.SSL, "imap.gmail.com", 993, Security.SSL,
        host_saves_sent=True,
        help=_("Use a 16-character App Password (myaccount.google.com → Security → App "
               "passwords; 2-Step Verification must be on) and turn IMAP on in Gmail's settings."),
    ),
    "outlook": Preset(
        _("Outlook / Microsoft 365"),
        "smtp.office365.com", 587, Security.STARTTLS, "outlook.office365.com", 993, Security.SSL,
        host_saves_sent=True,
        help=_("Your Microsoft 365 administrator must allow SMTP AUTH for this mailbox."),
    ),
    "zoho": Preset(
        _("Zoho Mail"),
        "smtp.zoho.com", 465, Security.SSL, "imap.zoho.com", 993, Security.SSL,
        host_saves_sent=False,
        help=_("Turn IMAP access on in Zoho Mail's settings; with 2FA, use an app password."),
    ),
    "yahoo": Preset(
        _("Yahoo Mail"),
        "smtp.mail.yahoo.com", 465, Security.SSL, "imap.mail.yahoo.com", 993, Security.SSL,
        host_saves_sent=False,
        help=_("Generate an app password in Yahoo's account security settings."),
    ),
    "ovh": Preset(
        _("OVHcloud"),
        "ssl0.ovh.net", 465, Security.SSL, "ssl0.ovh.net", 993, Security.SSL,
        host_saves_sent=False,
    ),
    "ionos": Preset(
        _("IONOS"),
        "smtp.ionos.com", 587, Security.STARTTLS, "imap.ionos.com", 993, Security.SSL,
        host_saves_sent=False,
    ),
    "gandi": Preset(
        _("Gandi"),
        "mail.gandi.net", 465, Security.SSL, "mail.gandi.net", 993, Security.SSL,
        host_saves_sent=False,
    ),
}  # fmt: skip


def presets_for_browser() -> dict[str, dict[str, object]]:
    """What the form's script fills in when a preset is chosen."""
    return {
        code: {
            "smtp_host": p.smtp_host,
            "smtp_port": p.smtp_port,
            "smtp_security": str(p.smtp_security),
            "imap_host": p.imap_host,
            "imap_port": p.imap_port,
            "imap_security": str(p.imap_security),
            "append_to_sent": not p.host_saves_sent,
            "help": str(p.help),
        }
        for code, p in PRESETS.items()
    }
