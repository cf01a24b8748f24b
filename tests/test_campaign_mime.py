"""Outgoing messages: RFC 5322 headers, threading, encodings, HTML sanitising, text alternative.

Every message is parsed back with the stdlib's modern parser, as a recipient's client would.
"""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import default

import pytest

from campaigns.mime import (
    Draft,
    build,
    html_to_text,
    new_message_id,
    reply_subject,
    sanitize_html,
)

MSG_ID = "<3f2a9c1e0b@acme.fr>"


def draft(**changes: object) -> Draft:
    fields: dict[str, object] = {
        "sender_email": "marc@acme.fr",
        "sender_name": "Marc Lefèvre",
        "to_email": "jeanne@exemple.fr",
        "to_name": "Jeanne Dupré",
        "subject": "Une idée pour Acme",
        "text": "Bonjour Jeanne,\n\nUne question rapide.\n\nMarc",
        "date": datetime(2025, 3, 4, 9, 30, tzinfo=UTC),
    }
    return Draft(**{**fields, **changes})  # type: ignore[arg-type]


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def body(message: EmailMessage, kind: str) -> str:
    # Decoded quoted-printable keeps the wire's CRLF; clients show both the same.
    part = message.get_body((kind,))
    assert part is not None
    return part.get_content().replace("\r\n", "\n")


def header_block(raw: bytes) -> str:
    return raw.split(b"\r\n\r\n", 1)[0].decode("ascii")


# --- wire format -------------------------------------------------------------------------------


def test_crlf_ascii_and_line_length() -> None:
    long_line = "é" * 1500 + " " + "x" * 2000
    raw = build(
        draft(text=long_line, html=f"<p>{long_line}</p>", subject="s" * 300), message_id=MSG_ID
    )
    assert raw.isascii()  # 7-bit clean: survives any relay, keeps DKIM valid
    assert b"\n" not in raw.replace(b"\r\n", b"")  # no bare LF
    assert b"\r" not in raw.replace(b"\r\n", b"")  # no bare CR
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert body(parse(raw), "plain").rstrip("\n") == long_line


def test_text_only_message() -> None:
    raw = build(draft(), message_id=MSG_ID)
    message = parse(raw)
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message["Content-Transfer-Encoding"] == "7bit"  # ASCII text needs no encoding
    assert body(message, "plain") == "Bonjour Jeanne,\n\nUne question rapide.\n\nMarc\n"
    assert message["MIME-Version"] == "1.0"


def test_required_headers() -> None:
    message = parse(build(draft(), message_id=MSG_ID))
    assert message["Message-ID"] == MSG_ID
    assert message["Date"] == "Tue, 04 Mar 2025 09:30:00 +0000"
    assert message["Date"].datetime == datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
    assert "In-Reply-To" not in message
    assert "References" not in message


def test_date_keeps_its_offset_and_must_be_aware() -> None:
    paris = datetime(2025, 7, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    assert parse(build(draft(date=paris), message_id=MSG_ID))["Date"].datetime == paris
    with pytest.raises(ValueError, match="timezone-aware"):
        build(draft(date=datetime(2025, 7, 1, 10, 0)), message_id=MSG_ID)


def test_date_defaults_to_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    message = parse(build(draft(date=None), message_id=MSG_ID))
    assert before <= message["Date"].datetime <= datetime.now(UTC)


# --- encodings ---------------------------------------------------------------------------------


def test_accented_subject_and_names_are_encoded_and_round_trip() -> None:
    raw = build(
        draft(
            sender_name="Élodie Dupré, CEO",
            to_name='Zoë "la" Müller',
            subject="Réunion à propos de votre entreprise — très bientôt, ça vous va ?",
        ),
        message_id=MSG_ID,
    )
    headers = header_block(raw)
    assert "=?utf-8?" in headers  # RFC 2047 encoded-words
    message = parse(raw)
    assert message["Subject"] == "Réunion à propos de votre entreprise — très bientôt, ça vous va ?"
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Élodie Dupré, CEO", "marc@acme.fr")
    [recipient] = message["To"].addresses
    assert (recipient.display_name, recipient.addr_spec) == ('Zoë "la" Müller', "jeanne@exemple.fr")


def test_ascii_names_and_empty_names() -> None:
    message = parse(build(draft(sender_name="Marc", to_name=""), message_id=MSG_ID))
    assert message["From"] == "Marc <marc@acme.fr>"
    assert message["To"] == "jeanne@exemple.fr"


def test_international_domains_are_idna_encoded() -> None:
    message = parse(build(draft(to_email="jeanne@bücher.de"), message_id=MSG_ID))
    assert message["To"].addresses[0].domain == "xn--bcher-kva.de"
    with pytest.raises(ValueError, match="Non-ASCII local part"):
        build(draft(to_email="jéanne@exemple.fr"), message_id=MSG_ID)


def test_accented_body_round_trips() -> None:
    text = "Élodie, ça marche très bien. 日本語も大丈夫。\n"
    message = parse(build(draft(text=text), message_id=MSG_ID))
    assert body(message, "plain") == text
    assert message["Content-Transfer-Encoding"] in {"quoted-printable", "base64"}


def test_newlines_in_rendered_values_cannot_inject_headers() -> None:
    raw = build(
        draft(
            subject="Hello\r\nBcc: victim@example.com",
            to_name="Jeanne\nX-Evil: 1",
            headers={"List-Unsubscribe": "<https://u.test/x>\r\nBcc: v@example.com"},
        ),
        message_id=MSG_ID,
    )
    message = parse(raw)
    assert "Bcc" not in message
    assert "X-Evil" not in message
    assert message["Subject"] == "Hello Bcc: victim@example.com"


# --- Message-ID and threading ------------------------------------------------------------------


def test_message_id_uses_the_senders_domain() -> None:
    message_id = new_message_id("Marc@Acme.FR")
    assert re.fullmatch(r"<[a-z2-7]{32}@acme\.fr>", message_id)
    assert new_message_id("marc@exémple.fr").endswith("@xn--exmple-cva.fr>")
    assert len({new_message_id("marc@acme.fr") for _ in range(1000)}) == 1000
    with pytest.raises(ValueError):
        new_message_id("not-an-address")


def test_built_message_carries_the_given_message_id() -> None:
    message_id = new_message_id("marc@acme.fr")
    assert parse(build(draft(), message_id=message_id))["Message-ID"] == message_id
    with pytest.raises(ValueError):
        build(draft(), message_id="no-brackets@acme.fr")


def test_follow_up_threading_headers() -> None:
    first, second = "<first@acme.fr>", "<second@acme.fr>"
    message = parse(build(draft(in_reply_to=second, references=(first, second)), message_id=MSG_ID))
    assert message["In-Reply-To"] == second
    assert message["References"].split() == [first, second]


def test_references_end_with_the_parent_even_when_not_given() -> None:
    first, second = "<first@acme.fr>", "<second@acme.fr>"
    only_parent = parse(build(draft(in_reply_to=first), message_id=MSG_ID))
    assert only_parent["References"] == first
    reordered = parse(
        build(draft(in_reply_to=first, references=(first, second)), message_id=MSG_ID)
    )
    assert reordered["References"].split() == [second, first]


def test_long_message_ids_and_urls_are_never_encoded_words() -> None:
    # The stdlib would fold these into =?utf-8?q?…?=, which breaks threading and unsubscribe.
    long_ids = tuple(f"<{'a' * 70}{i}@mail.gmail.example.com>" for i in range(3))
    unsubscribe = f"<https://t.acme.fr/u/{'x' * 150}>, <mailto:u@acme.fr?subject=unsubscribe>"
    raw = build(
        draft(
            in_reply_to=long_ids[-1],
            references=long_ids,
            headers={
                "List-Unsubscribe": unsubscribe,
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        ),
        message_id=MSG_ID,
    )
    for line in header_block(raw).split("\r\n"):
        if not line.startswith(("From:", "To:", "Subject:")):  # accented names, encoded
            assert "=?" not in line, line
    message = parse(raw)
    assert message["In-Reply-To"] == long_ids[-1]
    assert message["References"].split() == list(long_ids)
    assert message["List-Unsubscribe"] == unsubscribe
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_extra_headers_cannot_replace_managed_ones() -> None:
    for name in ("From", "subject", "Message-ID", "Content-Type", "Bad Name", "X:Y"):
        with pytest.raises(ValueError):
            build(draft(headers={name: "x"}), message_id=MSG_ID)


def test_non_ascii_extra_header_is_encoded() -> None:
    message = parse(build(draft(headers={"X-Campagne": "Été 2025"}), message_id=MSG_ID))
    assert message["X-Campagne"] == "Été 2025"


# --- subjects ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "expected"),
    [
        ("Une idée pour Acme", "Re: Une idée pour Acme"),
        ("Re: Une idée", "Re: Une idée"),
        ("RE: re: Re:Une idée", "Re: Une idée"),
        ("RE : Une idée", "Re: Une idée"),  # French Outlook
        ("AW: Frage", "Re: Frage"),
        ("Re[2]: Topic", "Re: Topic"),
        ("Red: the colour", "Re: Red: the colour"),
        ("Regarding: this", "Re: Regarding: this"),
    ],
)
def test_reply_subject(previous: str, expected: str) -> None:
    assert reply_subject(previous) == expected
    message = parse(build(draft(subject="", previous_subject=previous), message_id=MSG_ID))
    assert message["Subject"] == expected


def test_explicit_subject_wins_over_previous() -> None:
    message = parse(
        build(draft(subject="Nouveau sujet", previous_subject="Old"), message_id=MSG_ID)
    )
    assert message["Subject"] == "Nouveau sujet"


def test_no_subject_at_all() -> None:
    assert parse(build(draft(subject=""), message_id=MSG_ID))["Subject"] == ""


# --- HTML --------------------------------------------------------------------------------------

HOSTILE = (
    '<p onclick="steal()">Bonjour <b>Jeanne</b>,</p>'
    "<script>document.location='https://evil.test'</script>"
    '<p><a href="javascript:alert(1)">clic</a> <a href="https://acme.fr/offre" '
    'onmouseover="x()">notre offre</a> <a href="mailto:marc@acme.fr">écrivez-moi</a></p>'
    '<img src="https://cdn.acme.fr/logo.png" alt="Acme" onerror="x()">'
    '<img src="http://cdn.acme.fr/tracker.png"><img src="data:image/png;base64,AAAA">'
    '<iframe src="https://evil.test"></iframe><form action="https://evil.test"><input></form>'
    '<span style="color: red; background-image: url(https://evil.test/x)">rouge</span>'
    '<style>body{display:none}</style><a href="/relative">rel</a>'
)


def test_sanitize_html_removes_scripts_handlers_and_dangerous_urls() -> None:
    clean = sanitize_html(HOSTILE)
    for bad in (
        "script",
        "steal",
        "onclick",
        "onmouseover",
        "onerror",
        "javascript:",
        "iframe",
        "evil.test",
        "<form",
        "<input",
        "http://cdn",
        "data:",
        "display:none",
        "/relative",
    ):
        assert bad not in clean, bad
    for kept in (
        "<b>Jeanne</b>",
        'href="https://acme.fr/offre"',
        'href="mailto:marc@acme.fr"',
        'src="https://cdn.acme.fr/logo.png"',
        'alt="Acme"',
        "color:red",
    ):
        assert kept in clean.replace("color: red", "color:red"), kept


def test_html_message_is_multipart_alternative_with_sanitised_html() -> None:
    raw = build(draft(text="", html=HOSTILE), message_id=MSG_ID)
    message = parse(raw)
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert all("MIME-Version" not in part for part in parts)
    html = body(message, "html")
    assert "<b>Jeanne</b>" in html
    assert "script" not in html and "onclick" not in html and "javascript:" not in html
    assert '<meta charset="utf-8">' in html
    text = body(message, "plain")
    assert "Bonjour Jeanne," in text
    assert "notre offre (https://acme.fr/offre)" in text
    assert "écrivez-moi (marc@acme.fr)" in text
    assert "steal" not in text and "evil" not in text and "display" not in text


def test_explicit_text_alternative_is_kept() -> None:
    message = parse(build(draft(text="Version texte", html="<p>HTML</p>"), message_id=MSG_ID))
    assert body(message, "plain") == "Version texte\n"
    assert "<p>HTML</p>" in body(message, "html")


def test_html_to_text_is_readable() -> None:
    html = (
        "<html><head><title>Titre</title><style>p{color:red}</style></head><body>"
        "<h1>Bonjour&nbsp;Jeanne</h1><p>Première   ligne<br>deuxième ligne</p>"
        '<p>Voir <a href="https://acme.fr/offre">notre offre</a> ou '
        '<a href="https://acme.fr">https://acme.fr</a> ou <a href="https://acme.fr/x"></a>.</p>'
        "<ul><li>un</li><li>deux</li></ul><ol><li>premier</li><li>second</li></ol>"
        "<blockquote><p>cité</p></blockquote><div>Marc</div><div>Fondateur</div>"
        "<script>alert(1)</script></body></html>"
    )
    assert html_to_text(html) == (
        "Bonjour Jeanne\n\n"
        "Première ligne\ndeuxième ligne\n\n"
        "Voir notre offre (https://acme.fr/offre) ou https://acme.fr ou https://acme.fr/x.\n\n"
        "- un\n- deux\n\n"
        "1. premier\n2. second\n\n"
        "> cité\n\n"
        "Marc\nFondateur"
    )


def test_html_to_text_keeps_preformatted_text() -> None:
    assert html_to_text("<p>Code :</p><pre>a\n  b\n\nc</pre>") == "Code :\n\na\n  b\n\nc"
