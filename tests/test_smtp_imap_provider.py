"""The SMTP + IMAP provider against real servers on loopback: it sends once, says exactly what
a refusal means, reads what arrived without marking it read, and files and flags mail."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid

import imapclient
import pytest

from email_accounts.providers.base import (
    AuthenticationFailed,
    Folders,
    OutcomeUnknown,
    OutgoingMessage,
    ProviderError,
    RecipientRejected,
    SenderQuotaReached,
    SentMessage,
    ServerSettings,
    TransientError,
)
from email_accounts.providers.smtp_imap import SmtpImapProvider
from tests.net import free_port

FOLDERS = Folders(inbox="INBOX", sent="Sent", junk="Junk")


@pytest.fixture(autouse=True)
def _timeouts(settings):
    settings.EMAIL_ACCOUNTS_STEP_TIMEOUT = 10  # no test here waits for one: room for a busy CI


@pytest.fixture
def servers(mail_servers, settings):
    settings.EMAIL_ACCOUNTS_EXTRA_CA_FILE = str(mail_servers.dovecot.cert)
    return mail_servers


@pytest.fixture
def connect(servers):
    """Builds providers for mailboxes of the test servers, and closes them afterwards, as
    open_provider() does after each use."""
    opened: list[SmtpImapProvider] = []

    def build(address, password, *, append_to_sent=True, smtp_port=None, folders=FOLDERS):
        port = smtp_port or servers.smtp.port
        provider = SmtpImapProvider(
            smtp=ServerSettings("localhost", port, "starttls", address, password),
            imap=ServerSettings("localhost", servers.dovecot.imaps_port, "ssl", address, password),
            folders=folders,
            append_to_sent=append_to_sent,
        )
        opened.append(provider)
        return provider

    yield build
    for provider in opened:
        provider.close()


def outgoing(sender, recipient, subject="Quick question") -> OutgoingMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, recipient, subject
    message["Message-ID"] = make_msgid(domain="fluenzr.test")
    message.set_content("Bonjour Hélène,\n\n.a line that starts with a dot\n")
    return OutgoingMessage(
        raw=message.as_bytes(),
        message_id=message["Message-ID"],
        sender=sender,
        recipients=(recipient,),
    )


def raw_mail(subject: str, message_id: str | None = None) -> bytes:
    message_id = message_id or make_msgid(domain="elsewhere.test")
    return (
        f"From: contact@elsewhere.test\r\nTo: me@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\nHello\r\n"
    ).encode()


def flags(servers, address, password, folder) -> dict[str, tuple[bytes, ...]]:
    """Subject → flags of every message in a folder, read from the side (never by the code
    under test)."""
    port = servers.dovecot.imap_port
    with imapclient.IMAPClient("127.0.0.1", port=port, ssl=False) as imap:
        imap.login(address, password)
        imap.select_folder(folder, readonly=True)
        fetched = imap.fetch("1:*", ["FLAGS", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
    return {
        data[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().split(":", 1)[1].strip(): tuple(
            flag
            for flag in data[b"FLAGS"]
            if flag != b"\\Recent"  # the server's, not ours
        )
        for data in fetched.values()
    }


# ----------------------------------------------------------------------------- sending


def test_send_delivers_once_and_files_a_copy_in_sent(servers, connect):
    alice, alice_pw = servers.mailbox("send-alice@example.test")
    bob, bob_pw = servers.mailbox("send-bob@example.test")
    reader = connect(bob, bob_pw)
    cursor = reader.fetch_new({}).cursor
    message = outgoing(alice, bob, "Partnership")

    sender = connect(alice, alice_pw)
    sender.verify()
    assert sender.send(message) == SentMessage(message.message_id, "")
    assert sender.find_sent(message.message_id) == SentMessage(message.message_id, "")
    sender.close()

    (received,) = servers.smtp.received
    assert (received.sender, received.recipients, received.login) == (alice, [bob], alice)
    assert received.message["Message-ID"] == message.message_id
    assert b"\r\n.a line that starts with a dot\r\n" in received.raw  # dot-stuffed, unstuffed
    assert flags(servers, alice, alice_pw, "Sent") == {"Partnership": (b"\\Seen",)}

    result = reader.fetch_new(cursor)
    (inbound,) = result.messages
    assert inbound.ref.provider_message_id == message.message_id
    assert (inbound.ref.folder, inbound.folder_role, inbound.thread_id) == ("INBOX", "inbox", "")
    assert inbound.headers["Subject"] == "Partnership"
    assert abs(inbound.received_at - datetime.now(UTC)).total_seconds() < 60
    assert b"Bonjour H" in reader.fetch_raw(inbound.ref)
    assert flags(servers, bob, bob_pw, "INBOX") == {"Partnership": ()}  # read, still unread
    assert reader.fetch_new(result.cursor).messages == []


def test_hosts_that_file_sent_mail_themselves_get_no_second_copy(servers, connect):
    alice, alice_pw = servers.mailbox("nocopy-alice@example.test")
    message = outgoing(alice, "someone@elsewhere.test")
    sender = connect(alice, alice_pw, append_to_sent=False)
    sender.send(message)
    assert sender.find_sent(message.message_id) is None
    assert flags(servers, alice, alice_pw, "Sent") == {}
    no_sent = connect(alice, alice_pw, folders=Folders("INBOX", None, None))
    assert no_sent.find_sent(message.message_id) is None


def test_a_copy_that_cannot_be_filed_does_not_fail_a_sent_message(servers, connect):
    alice, alice_pw = servers.mailbox("nofile-alice@example.test")
    message = outgoing(alice, "someone@elsewhere.test")
    sender = connect(alice, alice_pw, folders=Folders("INBOX", "No such folder", "Junk"))
    assert sender.send(message) == SentMessage(message.message_id, "")  # the mail left
    assert len(servers.smtp.received) == 1


def test_one_refused_recipient_stops_the_whole_message(servers, connect):
    alice, alice_pw = servers.mailbox("multi-alice@example.test")
    servers.smtp.refuse_recipient("gone@elsewhere.test", "550 5.1.1 No such user")
    message = outgoing(alice, "ok@elsewhere.test")
    both = OutgoingMessage(
        message.raw, message.message_id, alice, ("ok@elsewhere.test", "gone@elsewhere.test")
    )
    with pytest.raises(RecipientRejected, match=r"gone@elsewhere\.test"):
        connect(alice, alice_pw).send(both)
    assert servers.smtp.received == []  # not sent to the accepted one either


@pytest.mark.parametrize(
    ("reply", "permanent", "enhanced"),
    [("550 5.1.1 No such user", True, "5.1.1"), ("452 4.2.2 Mailbox full", False, "4.2.2")],
)
def test_a_refused_recipient_is_a_bounce_and_nothing_leaves(
    servers, connect, reply, permanent, enhanced
):
    alice, alice_pw = servers.mailbox("bounce-alice@example.test")
    servers.smtp.refuse_recipient("gone@elsewhere.test", reply)
    with pytest.raises(RecipientRejected) as rejected:
        connect(alice, alice_pw).send(outgoing(alice, "gone@elsewhere.test"))
    assert rejected.value.permanent is permanent
    assert (rejected.value.code, rejected.value.enhanced_code) == (int(reply[:3]), enhanced)
    assert "gone@elsewhere.test" in rejected.value.message
    assert servers.smtp.received == []


@pytest.mark.parametrize(
    ("refuse", "reply", "error"),
    [
        ("sender", "550 5.4.5 Daily user sending quota exceeded.", SenderQuotaReached),
        ("data", "550 5.4.5 Daily user sending limit exceeded.", SenderQuotaReached),
        ("sender", "451 4.7.0 You are being rate limited, try later", SenderQuotaReached),
        ("recipient", "451 4.7.1 Greylisted, please try again", TransientError),
        ("data", "421 4.3.0 Service shutting down", TransientError),
        ("sender", "553 5.7.1 Sender address rejected: not owned by user", AuthenticationFailed),
        ("data", "554 5.7.1 Message rejected as spam", RecipientRejected),
    ],
)
def test_each_refusal_says_what_to_do(servers, connect, refuse, reply, error):
    alice, alice_pw = servers.mailbox("refused-alice@example.test")
    if refuse == "sender":
        servers.smtp.refuse_sender(alice, reply)
    elif refuse == "recipient":
        servers.smtp.refuse_recipient("contact@elsewhere.test", reply)
    else:
        servers.smtp.refuse_data(reply)
    with pytest.raises(error) as raised:
        connect(alice, alice_pw).send(outgoing(alice, "contact@elsewhere.test"))
    assert reply[4:] in raised.value.message
    if error is RecipientRejected:  # a policy block keeps its code for the caller to classify
        assert (raised.value.code, raised.value.enhanced_code) == (554, "5.7.1")
    assert flags(servers, alice, alice_pw, "Sent") == {}  # nothing left, nothing filed


def test_a_wrong_password_or_an_unreachable_server_sends_nothing(servers, connect):
    alice, password = servers.mailbox("auth-alice@example.test")
    wrong = connect(alice, "wrong-password")
    for call in (lambda: wrong.send(outgoing(alice, "x@elsewhere.test")), wrong.verify):
        with pytest.raises(AuthenticationFailed, match="App Password"):
            call()
    with pytest.raises(AuthenticationFailed, match="App Password"):
        wrong.fetch_new({})
    closed = connect(alice, password, smtp_port=free_port())
    with pytest.raises(TransientError, match="refused the connection"):
        closed.send(outgoing(alice, "x@elsewhere.test"))
    assert servers.smtp.received == []


def test_a_connection_lost_after_the_content_is_an_unknown_outcome(servers, connect):
    alice, alice_pw = servers.mailbox("unknown-alice@example.test")
    servers.smtp.drop_after_data()
    message = outgoing(alice, "contact@elsewhere.test")
    with pytest.raises(OutcomeUnknown, match="may have been sent"):
        connect(alice, alice_pw).send(message)
    # It did leave: the caller reconciles through Sent, where the copy was filed all the same.
    assert [r.message["Message-ID"] for r in servers.smtp.received] == [message.message_id]
    assert connect(alice, alice_pw).find_sent(message.message_id) is not None


# ----------------------------------------------------------------------------- reading


def test_fetch_new_starts_from_now_then_returns_each_arrival_once(servers, connect):
    me, pw = servers.mailbox("sync@example.test")
    servers.dovecot.deliver(me, raw_mail("old news"))
    reader = connect(me, pw)
    first = reader.fetch_new({})
    assert first.messages == []
    assert set(first.cursor["folders"]) == {"INBOX", "Junk"}

    reply_id = make_msgid(domain="elsewhere.test")
    servers.dovecot.deliver(me, raw_mail("Re: Partnership", reply_id))
    servers.dovecot.deliver(me, raw_mail("Cheap pills"), folder="Junk")
    second = reader.fetch_new(first.cursor)
    found = {m.headers["Subject"]: m for m in second.messages}
    assert set(found) == {"Re: Partnership", "Cheap pills"}
    assert found["Re: Partnership"].ref.provider_message_id == reply_id
    assert (found["Cheap pills"].folder_role, found["Cheap pills"].ref.folder) == ("junk", "Junk")
    assert second.full_resync is False
    assert reader.fetch_new(second.cursor).messages == []  # once, not again
    assert flags(servers, me, pw, "INBOX") == {"old news": (), "Re: Partnership": ()}
    assert flags(servers, me, pw, "Junk") == {"Cheap pills": ()}


def test_a_new_uidvalidity_rereads_a_recent_window(servers, connect):
    me, pw = servers.mailbox("resync@example.test")
    reader = connect(me, pw)
    cursor = reader.fetch_new({}).cursor
    port = servers.dovecot.imap_port
    with imapclient.IMAPClient("127.0.0.1", port=port, ssl=False) as imap:
        imap.login(me, pw)
        imap.delete_folder("Junk")
        imap.create_folder("Junk")  # same name, new UIDVALIDITY: old UIDs mean nothing
    servers.dovecot.deliver(me, raw_mail("After the reset"), folder="Junk")

    result = reader.fetch_new(cursor)
    assert result.full_resync is True
    assert [m.headers["Subject"] for m in result.messages] == ["After the reset"]
    before, after = cursor["folders"]["Junk"], result.cursor["folders"]["Junk"]
    assert after["uidvalidity"] != before["uidvalidity"]
    assert reader.fetch_new(result.cursor).messages == []


# ----------------------------------------------------------------------------- filing


@pytest.mark.parametrize("capability", ["", "UIDPLUS"], ids=["MOVE", "COPY+EXPUNGE"])
def test_move_to_junk_and_back(servers, connect, capability):
    address = f"move-{capability.lower() or 'move'}@example.test"
    me, pw = servers.mailbox(address, imap_capability=capability)
    reader = connect(me, pw)
    cursor = reader.fetch_new({}).cursor
    servers.dovecot.deliver(me, raw_mail("Not spam, really"))
    (inbound,) = reader.fetch_new(cursor).messages

    in_junk = reader.move(inbound.ref, to="junk")
    assert in_junk.provider_message_id == inbound.ref.provider_message_id
    assert in_junk.folder == "Junk"
    assert in_junk.uid > 0
    assert flags(servers, me, pw, "INBOX") == {}
    back = reader.move(in_junk, to="inbox")
    assert back.folder == "INBOX" and back.uid > 0
    assert list(flags(servers, me, pw, "INBOX")) == ["Not spam, really"]
    assert flags(servers, me, pw, "Junk") == {}
    assert b"Not spam, really" in reader.fetch_raw(back)
    for stale in (
        lambda: reader.fetch_raw(inbound.ref),
        lambda: reader.move(inbound.ref, to="junk"),
    ):
        with pytest.raises(ProviderError, match="no longer in"):
            stale()  # the UID it had in INBOX is gone


def test_mark_read_and_important(servers, connect):
    me, pw = servers.mailbox("mark@example.test")
    reader = connect(me, pw)
    cursor = reader.fetch_new({}).cursor
    servers.dovecot.deliver(me, raw_mail("Flag me"))
    (inbound,) = reader.fetch_new(cursor).messages

    reader.mark(inbound.ref, read=True, important=True)
    assert set(flags(servers, me, pw, "INBOX")["Flag me"]) == {b"\\Seen", b"\\Flagged"}
    reader.mark(inbound.ref, read=False)
    assert flags(servers, me, pw, "INBOX")["Flag me"] == (b"\\Flagged",)
    reader.mark(inbound.ref, important=False)
    assert flags(servers, me, pw, "INBOX")["Flag me"] == ()
