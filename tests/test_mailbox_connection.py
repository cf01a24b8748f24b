"""The SMTP + IMAP connection test against real servers on loopback: each failure reads as
an instruction."""

from __future__ import annotations

import pytest

from email_accounts.providers.connection import (
    ConnectionProblem,
    Folders,
    ServerSettings,
    check_imap,
    check_smtp,
)
from tests.net import free_port


@pytest.fixture(autouse=True)
def _short_timeouts(settings):
    settings.EMAIL_ACCOUNTS_STEP_TIMEOUT = 3  # loopback answers at once, or never


@pytest.fixture
def trusted(trusted_mail_servers):
    return trusted_mail_servers


def smtp(servers, address, password, *, port=None, security="starttls", host="localhost"):
    return ServerSettings(host, port or servers.smtp.port, security, address, password)


def test_right_settings_pass_and_folders_are_found(trusted):
    address, password = trusted.mailbox("ok@example.test")
    check_smtp(smtp(trusted, address, password))
    check_smtp(smtp(trusted, address, password, port=trusted.smtp.tls_port, security="ssl"))
    imap = ServerSettings("localhost", trusted.dovecot.imaps_port, "ssl", address, password)
    assert check_imap(imap) == Folders(inbox="INBOX", sent="Sent", junk="Junk")
    starttls = ServerSettings("localhost", trusted.dovecot.imap_port, "starttls", address, password)
    assert check_imap(starttls).sent == "Sent"
    assert trusted.smtp.received == []  # a connection test sends nothing


def test_a_wrong_password_says_what_to_use(trusted):
    address, _password = trusted.mailbox("pw@example.test")
    for check, server in [
        (check_smtp, smtp(trusted, address, "wrong")),
        (check_imap, ServerSettings("localhost", trusted.dovecot.imaps_port, "ssl", address, "x")),
    ]:
        with pytest.raises(ConnectionProblem) as problem:
            check(server)
        assert "App Password" in problem.value.message


@pytest.mark.parametrize(
    ("port_of", "security", "expected"),
    [
        (lambda s: s.smtp.port, "ssl", "security setting does not match port"),
        (lambda s: s.smtp.tls_port, "starttls", "did not answer|does not match"),
        (lambda s: s.smtp.port, "none", "does not offer to log in"),
        (lambda s: free_port(), "ssl", "refused the connection"),
    ],
)
def test_port_and_security_mistakes_are_named(trusted, port_of, security, expected):
    address, password = trusted.mailbox("port@example.test")
    with pytest.raises(ConnectionProblem, match=expected):
        check_smtp(smtp(trusted, address, password, port=port_of(trusted), security=security))


def test_unknown_host_and_untrusted_certificate(mail_servers, settings):
    settings.EMAIL_ACCOUNTS_EXTRA_CA_FILE = ""
    address, password = mail_servers.mailbox("cert@example.test")
    with pytest.raises(ConnectionProblem, match="was not found"):
        check_smtp(smtp(mail_servers, address, password, host="smtp.nowhere.invalid"))
    with pytest.raises(ConnectionProblem, match="certificate"):
        check_imap(
            ServerSettings("localhost", mail_servers.dovecot.imaps_port, "ssl", address, password)
        )
