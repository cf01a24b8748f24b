"""The pure inbound classifier on a corpus of real-shaped messages (tests/inbound_corpus/)."""

import email
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from email_accounts.inbound import (
    Verdict,
    classify,
    looks_automated,
    suggest_lead_status,
    verdict_json,
)

CORPUS = Path(__file__).parent / "inbound_corpus"
ROOT = Path(__file__).parent.parent


def is_ours(message_id: str) -> bool:
    return message_id.endswith("@sender.example.com>")


def ours(step: int, number: str) -> str:
    """The Message-ID of one of our sent messages in the corpus (step 1 or the follow-up)."""
    return f"<step{step}.{number}@sender.example.com>"


def verdict_of(name: str) -> Verdict:
    return classify((CORPUS / name).read_bytes(), is_ours=is_ours)


# name: expected fields (anything not listed is not asserted in the table test)
EXPECTED: dict[str, dict] = {
    "bounce_postfix_hard_5.1.1.eml": dict(kind="bounce", bounce_class="hard", status="5.1.1",
        recipient="jean.dupont@prospect-a.fr", original_message_id=ours(1, "0001"),
        action="failed"),
    "bounce_exim_text_hard.eml": dict(kind="bounce", bounce_class="hard", status="5.1.1",
        recipient="paul.martin@prospect-b.com", original_message_id=ours(1, "0002")),
    "bounce_qmail_text_hard.eml": dict(kind="bounce", bounce_class="hard", status="5.1.1",
        recipient="sophie@prospect-q.com", original_message_id=ours(1, "0003")),
    "bounce_gmail_hard_5.1.1.eml": dict(kind="bounce", bounce_class="hard", status="5.1.1",
        recipient="claire.bernard@gmail.com", original_message_id=ours(1, "0004")),
    "bounce_m365_hard_5.1.10.eml": dict(kind="bounce", bounce_class="hard", status="5.1.10",
        recipient="mark.taylor@prospect-c.com", original_message_id=ours(1, "0005")),
    "bounce_exchange_fr_5.1.1.eml": dict(kind="bounce", bounce_class="hard", status="5.1.1",
        recipient="celine.moreau@prospect-j.fr", original_message_id=ours(1, "0014")),
    "bounce_postfix_delayed_4.4.1.eml": dict(kind="bounce", bounce_class="soft", status="4.4.1",
        recipient="luc@prospect-d.fr", action="delayed",
        original_message_id=ours(1, "0006")),
    "bounce_postfix_mailbox_full_5.2.2.eml": dict(kind="bounce", bounce_class="soft",
        status="5.2.2", recipient="anne.roux@prospect-e.fr"),
    "bounce_dmarc_5.7.26.eml": dict(kind="bounce", bounce_class="block", status="5.7.26",
        recipient="tom.baker@gmail.com", original_message_id=ours(1, "0008")),
    "bounce_m365_block_5.7.515.eml": dict(kind="bounce", bounce_class="block", status="5.7.515",
        recipient="kevin@hotmail.com", original_message_id=ours(1, "0011")),
    "bounce_spamhaus_5.7.1.eml": dict(kind="bounce", bounce_class="block", status="5.7.1",
        recipient="nina@prospect-g.de"),
    "bounce_gmail_quota_5.4.5.eml": dict(kind="bounce", bounce_class="quota", status="5.4.5",
        recipient="hugo.lambert@prospect-i.fr", original_message_id=ours(2, "0012")),
    "bounce_plain_550_user_unknown.eml": dict(kind="bounce", bounce_class="hard", status="",
        recipient="marc.petit@old-isp.example.net",
        original_message_id=ours(1, "0013")),
    "complaint_arf_abuse.eml": dict(kind="complaint", recipient="ines.garcia@yahoo.fr",
        original_message_id=ours(1, "0015"), bounce_class=""),
    "dsn_delivered_success.eml": dict(kind="other", bounce_class=""),
    "own_followup_in_sent.eml": dict(kind="own", reply_text=""),
    "warmup_message.eml": dict(kind="own", reply_text=""),
    "ooo_exchange_en.eml": dict(kind="auto_reply", out_of_office=True,
        return_date=date(2027, 3, 15), original_message_id=ours(1, "0016")),
    "ooo_exchange_fr.eml": dict(kind="auto_reply", out_of_office=True,
        return_date=date(2027, 3, 15)),
    "ooo_gmail_vacation_en.eml": dict(kind="auto_reply", out_of_office=True,
        return_date=date(2027, 3, 16)),
    "ooo_gmail_vacation_fr.eml": dict(kind="auto_reply", out_of_office=True,
        return_date=date(2027, 3, 16), from_name="Chloé Dubois"),
    "ooo_zimbra_ovh_fr.eml": dict(kind="auto_reply", out_of_office=True,
        return_date=date(2027, 3, 22)),
    "ooo_us_numeric_date.eml": dict(kind="auto_reply", out_of_office=True,
        return_date=date(2027, 3, 12)),
    "ooo_iso_date_precedence.eml": dict(kind="auto_reply", out_of_office=True,
        return_date=date(2027, 4, 6)),
    "autoreply_ticket_en.eml": dict(kind="auto_reply", out_of_office=False, return_date=None),
    "reply_gmail_en_top.eml": dict(kind="reply", unsubscribe_request=False,
        original_message_id=ours(1, "0024")),
    "reply_gmail_fr_top.eml": dict(kind="reply", from_name="Amélie Fontaine",
        from_email="amelie.fontaine@gmail.com"),
    "reply_outlook_en.eml": dict(kind="reply", subject="RE: Quick question about your outbound"),
    "reply_outlook_fr.eml": dict(kind="reply"),
    "reply_apple_mail_en.eml": dict(kind="reply"),
    "reply_thunderbird_fr_bottom.eml": dict(kind="reply"),
    "reply_thunderbird_en_no_in_reply_to.eml": dict(kind="reply", references=(),
        original_message_id=""),
    "reply_html_only_fr.eml": dict(kind="reply"),
    "reply_forwarded_colleague.eml": dict(kind="reply",
        from_email="marc.aubert@prospect-a.fr"),
    "reply_to_followup_en.eml": dict(kind="reply",
        original_message_id=ours(2, "0034"),
        references=(ours(2, "0034"), ours(1, "0034"))),
    "unsubscribe_fr.eml": dict(kind="reply", unsubscribe_request=True),
    "unsubscribe_en.eml": dict(kind="reply", unsubscribe_request=True),
    "reply_stop_only.eml": dict(kind="reply", unsubscribe_request=True),
    "malformed_broken_boundary_bad_charset.eml": dict(kind="reply",
        original_message_id=ours(1, "0036")),
    "malformed_binary_garbage.eml": dict(kind="other"),
}  # fmt: skip

# name: (a fragment of the new text, a fragment of the quoted history that must be gone)
REPLY_TEXT: dict[str, tuple[str, str]] = {
    "reply_gmail_en_top.eml": ("can we talk on Thursday afternoon?", "who handles it today"),
    "reply_gmail_fr_top.eml": ("je suis disponible jeudi", "qui s'en occupe"),
    "reply_outlook_en.eml": ("we are not interested at the moment", "who handles it today"),
    "reply_outlook_fr.eml": ("pas la bonne personne", "qui s'en occupe"),
    "reply_apple_mail_en.eml": ("I booked a slot for Tuesday", "who handles it today"),
    "reply_thunderbird_fr_bottom.eml": ("J'aimerais en savoir plus", "qui s'en occupe"),
    "reply_thunderbird_en_no_in_reply_to.eml": ("pricing for a team of 12", "who handles it"),
    "reply_html_only_fr.eml": ("Pas pour le moment", "Une question rapide"),
    "reply_forwarded_colleague.eml": ("échanger mardi", "peux-tu regarder"),
    "reply_to_followup_en.eml": ("let's set up a call next week", "bumping this up"),
    "unsubscribe_fr.eml": ("me désabonner", "Une question rapide"),
    "unsubscribe_en.eml": ("remove me from your list", 'Reply "stop"'),
    "malformed_broken_boundary_bad_charset.eml": ("intéressé par votre offre", "wrong-boundary"),
}

LEAD_STATUS: dict[str, str] = {
    "reply_gmail_en_top.eml": "interested",
    "reply_gmail_fr_top.eml": "interested",
    "reply_outlook_en.eml": "not_interested",
    "reply_html_only_fr.eml": "not_interested",
    "reply_outlook_fr.eml": "wrong_person",
    "reply_apple_mail_en.eml": "meeting_booked",
    "unsubscribe_fr.eml": "not_interested",
    "ooo_zimbra_ovh_fr.eml": "out_of_office",
    "autoreply_ticket_en.eml": "",
    "bounce_postfix_hard_5.1.1.eml": "",
}


def test_the_corpus_is_complete_and_documented():
    files = sorted(p.name for p in CORPUS.glob("*.eml"))
    assert len(files) >= 30
    assert set(files) == set(EXPECTED)
    readme = (CORPUS / "README.md").read_text()
    for name in files:
        assert f"`{name}`" in readme, f"{name} is not described in the corpus README"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verdict(name):
    verdict = verdict_of(name)
    for field, expected in EXPECTED[name].items():
        assert getattr(verdict, field) == expected, (field, verdict_json(verdict))
    assert verdict.rules, "every verdict names the rules that decided it"
    if verdict.kind == "bounce":
        assert verdict.rules[0].startswith(("dsn:", "header:", "from:", "subject+body:"))
        assert verdict.recipient in verdict.failed_recipients
        assert verdict.diagnostic
    if verdict.kind in ("reply", "auto_reply", "own") and name.startswith(("reply_", "unsub")):
        assert verdict.message_id and verdict.from_email


@pytest.mark.parametrize("name", sorted(REPLY_TEXT))
def test_reply_text_has_the_new_text_without_quoted_history(name):
    kept, gone = REPLY_TEXT[name]
    text = classify((CORPUS / name).read_bytes()).reply_text
    assert kept in text
    assert gone not in text
    assert not any(line.lstrip().startswith(">") for line in text.splitlines())


@pytest.mark.parametrize("name", sorted(LEAD_STATUS))
def test_lead_status_suggestion(name):
    status, rule = suggest_lead_status(verdict_of(name))
    assert status == LEAD_STATUS[name]
    assert bool(rule) == bool(status)


def test_our_unsubscribe_footer_in_the_quoted_history_is_not_a_request():
    verdict = verdict_of("reply_gmail_fr_top.eml")  # quotes « Pour ne plus recevoir nos messages »
    assert verdict.unsubscribe_request is False
    assert "text:unsubscribe-request" not in verdict.rules


def test_a_bounce_is_checked_before_the_auto_reply_markers_it_carries():
    raw = (CORPUS / "bounce_gmail_hard_5.1.1.eml").read_bytes()
    assert b"Auto-Submitted: auto-replied" in raw
    assert classify(raw).kind == "bounce"


def test_own_message_needs_the_registry_and_is_never_a_reply():
    raw = (CORPUS / "own_followup_in_sent.eml").read_bytes()
    assert classify(raw, is_ours=is_ours).kind == "own"
    assert classify(raw, is_ours=is_ours).rules == ("registry:own-message-id",)
    assert classify(raw).kind == "reply"  # without the registry it looks like any reply


def test_is_ours_that_fails_is_a_problem_not_a_crash():
    def broken(message_id: str) -> bool:
        raise RuntimeError("registry down")

    verdict = classify((CORPUS / "reply_outlook_en.eml").read_bytes(), is_ours=broken)
    assert verdict.kind == "reply"
    assert "is_ours:RuntimeError" in verdict.problems


def test_return_year_is_inferred_from_received_at():
    raw = (CORPUS / "ooo_gmail_vacation_fr.eml").read_bytes()  # « de retour le 16 mars »
    later = classify(raw, received_at=datetime(2027, 11, 20, tzinfo=UTC))
    assert later.return_date == date(2028, 3, 16)
    same_day = classify(raw, received_at=datetime(2027, 3, 16, 8, tzinfo=UTC))
    assert same_day.return_date == date(2027, 3, 16)


def test_numeric_dates_are_day_month_outside_the_americas():
    raw = (CORPUS / "ooo_us_numeric_date.eml").read_bytes().replace(b"-0500", b"+0100")
    assert classify(raw).return_date == date(2027, 12, 3)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe\x00",
        b"From: \r\n\r\n",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\n\n--x\n"
        b"Content-Type: message/delivery-status\n\nStatus: 5.1.1\n--x",
        b"Subject: =?bogus?Q?=FF?=\nFrom: a@b.c\nContent-Type: text/plain; charset=nope\n\n\xff",
        (CORPUS / "malformed_broken_boundary_bad_charset.eml").read_bytes(),
        (CORPUS / "malformed_binary_garbage.eml").read_bytes(),
    ],
)
def test_malformed_input_never_raises_and_lists_problems(raw):
    verdict = classify(raw)
    assert verdict.kind in ("reply", "auto_reply", "bounce", "complaint", "own", "other")
    assert verdict.problems
    json.dumps(verdict_json(verdict))


def test_truncated_messages_never_raise():
    for path in CORPUS.glob("*.eml"):
        raw = path.read_bytes()
        for cut in (len(raw) // 3, len(raw) // 2, len(raw) - 7):
            verdict = classify(raw[:cut])
            assert isinstance(verdict, Verdict)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    head=st.sampled_from(sorted(EXPECTED)),
    junk=st.binary(max_size=400),
    at=st.floats(min_value=0, max_value=1),
)
def test_corpus_messages_with_random_bytes_spliced_in_never_raise(head, junk, at):
    raw = (CORPUS / head).read_bytes()
    cut = int(len(raw) * at)
    verdict = classify(raw[:cut] + junk + raw[cut:], is_ours=is_ours)
    assert verdict.kind in ("reply", "auto_reply", "bounce", "complaint", "own", "other")
    json.dumps(verdict_json(verdict))


def test_long_lines_neither_stall_the_reply_parser_nor_get_lost():
    # mail-parser-reply's attribution regexes backtrack for seconds on a long "On …" line.
    hostile = b"From: a@prospect.example\nSubject: Re: x\n\n" + b"On " * 4000 + b"\n"
    verdict = classify(hostile)  # its speed is the long-line guard's job; here, the result
    assert verdict.kind == "reply" and verdict.reply_text.startswith("On On")

    long_line = "word " * 80
    raw = (
        "From: a@prospect.example\nSubject: Re: x\nContent-Type: text/plain; charset=utf-8\n\n"
        f"Hello,\n{long_line}\n\nOn Tue, Mar 9, 2027 at 10:12 AM Lea <lea@sender.example.com>"
        " wrote:\n> our pitch\n"
    ).encode()
    text = classify(raw).reply_text
    assert long_line.strip() in text and "our pitch" not in text and "\x00" not in text


def test_malformed_message_problems_name_what_failed():
    problems = verdict_of("malformed_broken_boundary_bad_charset.eml").problems
    assert "mime:StartBoundaryNotFoundDefect" in problems
    assert "header:Date unreadable" in problems
    assert any(p.startswith("charset:") for p in problems)


def test_verdict_json_is_json_ready():
    data = verdict_json(verdict_of("ooo_exchange_fr.eml"))
    assert data["return_date"] == "2027-03-15"
    assert data["kind"] == "auto_reply"
    assert isinstance(data["rules"], list) and "date:fr:jusqu-au" in data["rules"]
    assert json.loads(json.dumps(data)) == data


def _headers(name: str) -> email.message.Message:
    raw = (CORPUS / name).read_bytes()
    head = raw.split(b"\n\n", 1)[0]
    return email.message_from_bytes(head)


@pytest.mark.parametrize(
    ("name", "automated"),
    [
        ("bounce_postfix_hard_5.1.1.eml", True),
        ("bounce_exim_text_hard.eml", True),
        ("bounce_qmail_text_hard.eml", True),
        ("bounce_m365_hard_5.1.10.eml", True),
        ("complaint_arf_abuse.eml", True),
        ("ooo_exchange_en.eml", True),
        ("ooo_gmail_vacation_fr.eml", True),
        ("ooo_us_numeric_date.eml", True),
        ("ooo_iso_date_precedence.eml", True),
        ("reply_gmail_en_top.eml", False),
        ("reply_outlook_fr.eml", False),
        ("unsubscribe_en.eml", False),
        ("reply_forwarded_colleague.eml", False),
    ],
)
def test_looks_automated_on_headers_only(name, automated):
    headers = _headers(name)
    assert not headers.get_payload().strip()  # only the header block was given
    assert looks_automated(headers) is automated


def test_inspect_message_command_prints_one_json_object_per_message():
    out = StringIO()
    paths = [
        str(CORPUS / "bounce_m365_hard_5.1.10.eml"),
        str(CORPUS / "ooo_zimbra_ovh_fr.eml"),
        str(CORPUS / "does-not-exist.eml"),
        str(CORPUS),  # a directory cannot be read as a message
    ]
    call_command("inspect_message", *paths, stdout=out)
    objects = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [o["path"] for o in objects] == paths
    bounce, ooo, missing, directory = objects
    assert bounce["kind"] == "bounce" and bounce["status"] == "5.1.10"
    assert bounce["bounce_class"] == "hard" and bounce["recipient"] == "mark.taylor@prospect-c.com"
    assert bounce["original_message_id"] == "<step1.0005@sender.example.com>"
    assert "status:5.1.10" in bounce["rules"]
    assert ooo["kind"] == "auto_reply" and ooo["return_date"] == "2027-03-22"
    assert ooo["suggested_lead_status"] == "out_of_office"
    assert "error" in missing and "kind" not in missing
    assert "error" in directory


def test_inspect_message_reads_standard_input_in_a_subprocess():
    raw = (CORPUS / "malformed_broken_boundary_bad_charset.eml").read_bytes()
    raw += b"\n"  # and a second run with a quota DSN
    result = subprocess.run(
        [sys.executable, "manage.py", "inspect_message", "-"],
        input=raw,
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        check=True,
    )
    (line,) = result.stdout.decode().splitlines()
    data = json.loads(line)
    assert data["path"] == "-"
    assert data["kind"] == "reply"
    assert "intéressé" in data["reply_text"]
    assert "mime:StartBoundaryNotFoundDefect" in data["problems"]

    quota = subprocess.run(
        [sys.executable, "manage.py", "inspect_message", "-"],
        input=(CORPUS / "bounce_gmail_quota_5.4.5.eml").read_bytes(),
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        check=True,
    )
    data = json.loads(quota.stdout)
    assert (data["kind"], data["bounce_class"], data["status"]) == ("bounce", "quota", "5.4.5")
