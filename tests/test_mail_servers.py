"""The loopback mail servers the email-account tests rely on behave like real ones."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

import imapclient
import pytest
from imapclient.exceptions import LoginError


def _message(sender: str, recipient: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, recipient, subject
    message["Message-ID"] = f"<{subject.replace(' ', '-')}@fluenzr.test>"
    message.set_content("Bonjour Hélène,\n\nun test.\n")
    return message


def test_smtp_submission_with_starttls_delivers_into_the_imap_inbox(mail_servers):
    sender, password = mail_servers.mailbox("alice@example.test")
    recipient, recipient_password = mail_servers.mailbox("bob@example.test")
    with smtplib.SMTP("127.0.0.1", mail_servers.smtp.port, timeout=10) as smtp:
        smtp.starttls(context=mail_servers.client_tls_context())
        smtp.login(sender, password)
        smtp.send_message(_message(sender, recipient, "first contact"))
    assert [r.login for r in mail_servers.smtp.received] == [sender]

    with imapclient.IMAPClient("127.0.0.1", port=mail_servers.dovecot.imap_port, ssl=False) as imap:
        imap.login(recipient, recipient_password)
        imap.select_folder("INBOX", readonly=True)
        (uid,) = imap.search(["HEADER", "Message-ID", "<first-contact@fluenzr.test>"])
        fetched = imap.fetch([uid], ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]", "FLAGS"])[uid]
    assert b"first contact" in fetched[b"BODY[HEADER.FIELDS (SUBJECT)]"]
    assert b"\\Seen" not in fetched[b"FLAGS"]  # PEEK leaves it unread


def test_implicit_tls_port_and_wrong_password(mail_servers):
    sender, password = mail_servers.mailbox("carol@example.test")
    context = mail_servers.client_tls_context()
    with smtplib.SMTP_SSL(
        "127.0.0.1", mail_servers.smtp.tls_port, context=context, timeout=10
    ) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login(sender, "wrong")
        smtp.login(sender, password)
    with (
        imapclient.IMAPClient(
            "127.0.0.1", port=mail_servers.dovecot.imaps_port, ssl=True, ssl_context=context
        ) as imap,
        pytest.raises(LoginError),
    ):
        imap.login(sender, "wrong")
    # The certificate is self-signed: a client that does not trust it refuses to talk.
    with pytest.raises(ssl.SSLCertVerificationError):
        imapclient.IMAPClient("127.0.0.1", port=mail_servers.dovecot.imaps_port)


def test_scripted_refusals_carry_their_codes(mail_servers):
    sender, password = mail_servers.mailbox("dave@example.test")
    mail_servers.smtp.refuse_recipient("gone@example.test", "550 5.1.1 User unknown")
    with smtplib.SMTP("127.0.0.1", mail_servers.smtp.port, timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPNotSupportedError):  # AUTH is offered after STARTTLS
            smtp.login(sender, password)
        smtp.starttls(context=mail_servers.client_tls_context())
        smtp.login(sender, password)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.send_message(_message(sender, "gone@example.test", "bounce"))
        assert refused.value.recipients["gone@example.test"] == (550, b"5.1.1 User unknown")
        mail_servers.smtp.refuse_sender(sender, "550 5.4.5 Daily user sending quota exceeded")
        with pytest.raises(smtplib.SMTPSenderRefused) as quota:
            smtp.send_message(_message(sender, "someone@example.test", "quota"))
        assert quota.value.smtp_code == 550 and b"5.4.5" in quota.value.smtp_error
    assert mail_servers.smtp.received == []


def test_folders_carry_special_use_flags_and_delivery_reaches_them(mail_servers):
    address, password = mail_servers.mailbox("erin@example.test")
    sent = _message(address, "x@example.test", "already sent").as_bytes()
    mail_servers.dovecot.deliver(address, sent, folder="Sent")
    with imapclient.IMAPClient("127.0.0.1", port=mail_servers.dovecot.imap_port, ssl=False) as imap:
        imap.login(address, password)
        flags = {name: set(flags) for flags, _sep, name in imap.list_folders()}
        imap.select_folder("Sent", readonly=True)
        found = imap.search(["HEADER", "Message-ID", "<already-sent@fluenzr.test>"])
    assert b"\\Sent" in flags["Sent"] and b"\\Junk" in flags["Junk"]
    assert len(found) == 1
