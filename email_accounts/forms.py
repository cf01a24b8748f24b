"""Dashboard forms. Shapes and ranges only: the services own the rules and the real tests."""

from __future__ import annotations

import json
import zoneinfo

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.utils.translation import gettext_lazy as _

from email_accounts.models import SPACING_FLOOR_SECONDS, Mailbox
from email_accounts.presets import PRESETS, presets_for_browser
from email_accounts.providers.connection import HOST_PATTERN, Security
from email_accounts.services import MailboxSettings, SmtpImapDetails
from email_accounts.services.mailboxes import (
    ServerInput,
    daily_limit_ceiling_text,
    smtp_imap_details,
)

# No "none": a password never crosses the internet in clear text.
SECURITY_CHOICES = [(Security.SSL, _("SSL/TLS")), (Security.STARTTLS, _("STARTTLS"))]
_host = RegexValidator(
    HOST_PATTERN,
    _("Enter a host name like smtp.example.com, without http:// or a port."),
)


def _port(label) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        validators=[MinValueValidator(1), MaxValueValidator(65535)],
        error_messages={"invalid": _("Enter a port number, like 465 or 587.")},
    )


class SmtpImapForm(forms.Form):
    """Connect (or fix) an SMTP + IMAP mailbox. On edit, a blank password keeps the saved one."""

    preset = forms.ChoiceField(
        label=_("Provider"),
        required=False,
        choices=[("", _("Other host")), *((code, p.label) for code, p in PRESETS.items())],
    )
    email = forms.CharField(label=_("Email address"), max_length=254)
    sender_name = forms.CharField(
        label=_("Sender name"),
        max_length=150,
        required=False,
        help_text=_("The name recipients see, like “Claire from Acme”."),
    )
    smtp_host = forms.CharField(label=_("SMTP server"), max_length=253, validators=[_host])
    smtp_port = _port(_("SMTP port"))
    smtp_security = forms.ChoiceField(label=_("SMTP security"), choices=SECURITY_CHOICES)
    smtp_username = forms.CharField(
        label=_("SMTP username"),
        max_length=254,
        required=False,
        help_text=_("Leave empty to use the email address."),
    )
    smtp_password = forms.CharField(
        label=_("SMTP password"), max_length=500, widget=forms.PasswordInput(render_value=False)
    )
    imap_host = forms.CharField(label=_("IMAP server"), max_length=253, validators=[_host])
    imap_port = _port(_("IMAP port"))
    imap_security = forms.ChoiceField(label=_("IMAP security"), choices=SECURITY_CHOICES)
    imap_username = forms.CharField(
        label=_("IMAP username"),
        max_length=254,
        required=False,
        help_text=_("Leave empty to use the SMTP username."),
    )
    imap_password = forms.CharField(
        label=_("IMAP password"),
        max_length=500,
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty to use the SMTP password."),
    )
    append_to_sent = forms.BooleanField(
        label=_("File a copy of each email in the Sent folder"),
        required=False,
        initial=True,
        help_text=_("Gmail and Microsoft 365 do this themselves: leave it off for them."),
    )

    def __init__(self, *args, mailbox: Mailbox | None = None, **kwargs) -> None:
        self.mailbox = mailbox
        super().__init__(*args, **kwargs)
        self.fields["preset"].widget.attrs["data-presets"] = json.dumps(presets_for_browser())
        if mailbox is not None:  # editing: the address is the mailbox's; passwords may stay
            self.fields["email"].disabled = True
            self.fields["smtp_password"].required = False
            self.fields["smtp_password"].help_text = _("Leave empty to keep the saved password.")
            self.fields["imap_password"].help_text = _("Leave empty to keep the saved password.")

    @classmethod
    def initial_for(cls, mailbox: Mailbox) -> dict:
        smtp, imap = mailbox.smtp_settings, mailbox.imap_settings
        initial = {
            "email": mailbox.email,
            "sender_name": mailbox.sender_name,
            "append_to_sent": mailbox.append_to_sent,
        }
        for prefix, server in (("smtp", smtp), ("imap", imap)):
            if server is not None:
                initial |= {
                    f"{prefix}_host": server.host,
                    f"{prefix}_port": server.port,
                    f"{prefix}_security": server.security,
                    f"{prefix}_username": server.username,
                }
        return initial

    def details(self) -> SmtpImapDetails:
        data = self.cleaned_data

        def server(prefix: str) -> ServerInput:
            return ServerInput(
                host=data[f"{prefix}_host"],
                port=data[f"{prefix}_port"],
                security=data[f"{prefix}_security"],
                username=data[f"{prefix}_username"],
                password=data[f"{prefix}_password"],
            )

        return smtp_imap_details(
            email=self.mailbox.email if self.mailbox else data["email"],
            sender_name=data["sender_name"],
            smtp=server("smtp"),
            imap=server("imap"),
            append_to_sent=data["append_to_sent"],
            saved=self.mailbox,
        )


def _count(label, minimum: int = 0, **kwargs) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=minimum,
        max_value=100_000,
        error_messages={"invalid": _("Enter a whole number.")},
        **kwargs,
    )


class MailboxSettingsForm(forms.Form):
    sender_name = forms.CharField(label=_("Sender name"), max_length=150, required=False)
    signature = forms.CharField(
        label=_("Signature"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Added under every email sent from this mailbox ({{sender.signature}})."),
    )
    daily_limit = _count(_("Daily limit"), 1)
    ramp_up_enabled = forms.BooleanField(label=_("Ramp up the volume gradually"), required=False)
    ramp_up_start = _count(_("Emails on the first day"), 1)
    ramp_up_increase = _count(
        _("Increase per day"),
        0,
        help_text=_("In week 1; twice as much each day in week 2, three times in week 3…"),
    )
    spacing_min_seconds = _count(
        _("Minimum gap between two emails (seconds)"), SPACING_FLOOR_SECONDS
    )
    spacing_max_seconds = _count(
        _("Maximum gap between two emails (seconds)"), SPACING_FLOOR_SECONDS
    )
    timezone = forms.ChoiceField(
        label=_("Time zone"),
        help_text=_("The daily limit restarts at midnight in this time zone."),
    )

    def __init__(self, *args, mailbox: Mailbox, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [(z, z) for z in sorted(zoneinfo.available_timezones())]
        # The ceiling is checked by the service, whose message says whose limit it is.
        self.fields["daily_limit"].help_text = daily_limit_ceiling_text(mailbox)
        self.fields["daily_limit"].widget.attrs["max"] = mailbox.daily_limit_max

    @classmethod
    def initial_for(cls, mailbox: Mailbox) -> dict:
        return {name: getattr(mailbox, name) for name in MailboxSettings.__dataclass_fields__}

    def values(self) -> MailboxSettings:
        return MailboxSettings(
            **{name: self.cleaned_data[name] for name in MailboxSettings.__dataclass_fields__}
        )
