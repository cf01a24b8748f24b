"""Screenshot every dashboard page at desktop and phone widths, in English and French.

    .venv/bin/python scripts/screenshots.py [path ...]

Starts the app on a throwaway embedded database, signs in a demo owner, and writes PNGs to
var/screenshots/ — to be opened and looked at before a page is called done (UI.md).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import chromium  # noqa: E402

OUT = ROOT / "var" / "screenshots"
PAGES = [
    "/accounts/login/",
    "/accounts/signup/",
    "/",
    "/campaigns/",
    "/campaigns/new/",
    "{campaign}",
    "{campaign}contacts/",
    "{campaign}preview/",
    "{campaign}settings/",
    "{campaign}stats/",
    "{enrollment}",
    "{campaign_draft}",
    "/settings/",
    "/settings/members/",
    "/settings/api-keys/",
    "/settings/plan/",
    "/settings/tracking-domain/",
    "/u/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/",
    "/accounts/email/",
    "/accounts/2fa/",
    "/contacts/",
    "/contacts/new/",
    "/contacts/lists/",
    "/contacts/imports/",
    "/contacts/suppressions/",
    "{contact}",
    "{import_done}",
    "{import_draft}",
    "/email-accounts/",
    "/email-accounts/gmail/",
    "/email-accounts/smtp/?preset=ovh",
    "{mailbox}",
    "{mailbox_error}",
    "/inbox/",
    "{inbound}",
    "/webhooks/",
    "{webhook}",
]
# Demo contacts, lists, imports and suppressions; prints the ids the {…} paths above need.
SEED = """
from django.core.files.uploadedfile import SimpleUploadedFile
from accounts.models import Workspace
from contacts import services
from contacts.importing import service as imports
ws = Workspace.objects.get(name="Acme Growth")
webinar = services.list_create(workspace=ws, name="Webinar 2026", description="Signed up in May")
services.list_create(workspace=ws, name="SaaS founders")
people = [("Hélène", "Müller", "Ørsted"), ("José", "Gonçalves", "Café Crème"),
          ("Ada", "Lovelace", "Analytical Engines"), ("Grace", "Hopper", "Navy Yard")]
rows = "\\n".join(
    f"{f.lower()}.{i}@example.com;{f};{l};{c};{'CEO' if i % 3 else 'CMO'};SaaS"
    for i in range(40) for f, l, c in [people[i % 4]])
text = "Courriel;Prénom;Nom;Société;Poste;Secteur\\n" + rows + "\\nbroken;X;Y;Z;;\\n"
done = imports.import_create(workspace=ws, actor=None,
    upload=SimpleUploadedFile("salon-2026.csv", text.encode("cp1252")))
imports.import_start(workspace=ws, source_import=done, target_list=webinar)
imports.import_run(import_id=str(done.pk))
draft = imports.import_create(workspace=ws, actor=None,
    upload=SimpleUploadedFile("crm-export.csv", text.encode("cp1252")))
contact = services.contact_create(workspace=ws, data={"email": "jeanne@example.fr",
    "first_name": "Jeanne", "last_name": "Dupont", "company": "Dupont & Fils",
    "custom_fields": {"industry": "Retail"}}, tags=["VIP", "Paris"], lists=[webinar])
services.suppression_add(workspace=ws, value="competitor.example")
services.suppression_add(workspace=ws, value="no.thanks@example.com", reason="unsubscribed")
from campaigns.models import TrackingDomain
TrackingDomain.objects.create(workspace=ws, hostname="track.acme-growth.example", status="failed",
    error="track.acme-growth.example does not exist in DNS yet: add a CNAME record to "
    "127.0.0.1.")
from datetime import timedelta
from django.utils import timezone
from email_accounts.models import Mailbox
from email_accounts.providers.base import OAuthTokens, ServerSettings
now = timezone.now()
def mailbox(email, provider, **fields):
    box = Mailbox(workspace=ws, email=email, provider=provider, status_since=now,
        timezone="Europe/Paris", connected_at=now,
        ramp_up_started_on=now.date() - timedelta(days=9),
        sent_day=now.date(), **fields)
    if provider == "gmail":
        box.set_oauth_tokens(OAuthTokens("demo", "demo", None, ("openid",
            "https://www.googleapis.com/auth/userinfo.email",
            "https://www.googleapis.com/auth/gmail.modify")))
    else:
        server = ServerSettings("ssl0.ovh.net", 465, "ssl", email, "demo")
        box.set_servers(smtp=server, imap=ServerSettings("ssl0.ovh.net", 993, "ssl", email, "demo"))
    box.save()
    return box
gmail = mailbox("claire@acme-growth.com", "gmail", sender_name="Claire Martin", daily_limit=2000,
    daily_limit_max=2000, google_workspace_domain="acme-growth.com", sent_today=37)
broken = mailbox("hello@acme-growth.fr", "smtp", daily_limit=50, daily_limit_max=2000,
    status="error", status_reason="The username or password was refused. Check them; for Gmail "
    "or Google Workspace, use a 16-character App Password (2-Step Verification must be on).",
    sent_today=12)
mailbox("paul@acme-growth.com", "gmail", daily_limit=500, daily_limit_max=500, status="paused",
    status_reason="The provider's daily sending quota is used up; sending resumes tomorrow.",
    paused_until=now + timedelta(hours=7), sent_today=0, ramp_up_enabled=False)
from campaigns import services as campaigns
campaign = campaigns.campaign_create(workspace=ws, name="Webinar follow-up", mailboxes=[gmail],
    timezone="Europe/Paris", daily_new_contacts=40)
opener = campaigns.step_add(workspace=ws, campaign=campaign,
    subject="{Hi|Hello} {{firstName|there}}",
    body="Thanks for joining the webinar, {{firstName|there}}.\\n\\nWould a 15-minute call "
    "about {{company|your team}} make sense next week?\\n\\n{{sender.firstName}}")
campaigns.variant_add(workspace=ws, step=opener, subject="Quick question, {{firstName|there}}",
    body="Did the webinar answer your questions about {{company|your team}}?", weight=25)
campaigns.step_add(workspace=ws, campaign=campaign, subject="", delay_amount=3,
    body="Just bumping this up, {{firstName|there}}: does next week work?")
campaigns.campaign_enroll_lists(workspace=ws, campaign=campaign, lists=[webinar])
campaigns.campaign_launch(workspace=ws, campaign=campaign, now=now - timedelta(days=12))
# Twelve days of history for the stats chart and the timelines: sent, bounced, failed, unknown.
from campaigns.mime import new_message_id
from campaigns.models import Enrollment, OutboundMessage
first_step = campaign.steps.get(position=0)
story = list(Enrollment.objects.for_workspace(ws).filter(campaign=campaign)
    .select_related("contact").order_by("created_at")[:34])
for i, e in enumerate(story):
    at = now - timedelta(days=i % 11, hours=i % 4)
    status = ("unknown" if i == 0 else "failed" if i == 7 else "bounced" if i % 10 == 3
        else "sent")
    error = {"unknown": "The worker stopped while sending.", "failed": "Connection timed out "
        "(3 attempts).", "bounced": "550 5.1.1 User unknown"}.get(status, "")
    OutboundMessage.objects.create(workspace=ws, enrollment=e, step=first_step,
        variant=first_step.variants.get(label="B" if i % 4 == 1 else "A"), mailbox=gmail,
        status=status,
        message_id=new_message_id(gmail.email), subject=f"Hi {e.contact.first_name}",
        quota_day=at.date(), next_attempt_at=at, sending_started_at=at,
        sent_at=at if status == "sent" else None, attempts=3 if status == "failed" else 1,
        error=error, error_code="5.1.1" if status == "bounced" else "")
    e.mailbox, e.started_at = gmail, at
    if status == "sent":
        e.status, e.next_position, e.due_at = "active", 1, now + timedelta(days=1)
    elif status in ("bounced", "failed"):
        e.status, e.stopped_reason, e.due_at = status, error, None
    e.save()
# Replies in the unified inbox: human replies, out-of-office, one answered, lead statuses.
from campaigns.models import InboundEmail, OutboundReply
from contacts.models import Contact
replies = [
    ("reply", "Yes, happy to talk. Is Tuesday at 10 good for you?", "",
     "interested", "lead:interested", ""),
    ("auto_reply", "Je suis absente du bureau jusqu'au 14 et n'aurai pas accès à mes e-mails.",
     "", "out_of_office", "lead:out-of-office", "ooo"),
    ("reply", "Merci, mais nous avons déjà une solution. Bonne journée.", "not_interested",
     "not_interested", "lead:not-interested", ""),
    ("reply", "Please talk to my colleague Marc, he handles this.", "interested", "wrong_person",
     "lead:wrong-person", ""),
    ("reply", "Booked a slot in your calendar for Thursday, see you then!", "meeting_booked",
     "meeting_booked", "lead:meeting-booked", ""),
    ("reply", "Can you send me your pricing first?", "", "", "", "low"),
    ("auto_reply", "Thank you for your email. I am out of the office with no access to email.",
     "", "out_of_office", "lead:out-of-office", ""),
]
sent = [e for e in story if e.status == "active"][: len(replies)]
inbound_rows = []
for i, (e, (kind, text, lead, suggestion, rule, flag)) in enumerate(zip(sent, replies)):
    at = now - timedelta(hours=3 * i + 1)
    message = e.messages.get()
    row = InboundEmail.objects.create(workspace=ws, mailbox=gmail,
        provider_message_id=f"demo-{i}", provider_thread_id=f"thread-{i}", folder="INBOX",
        kind=kind, contact=e.contact, enrollment=e, answers=message,
        matched_by="sender" if flag == "low" else "headers", low_confidence=flag == "low",
        message_id=f"<demo-reply-{i}@example.com>", from_email=e.contact.email,
        from_name=e.contact.full_name,
        subject=("Réponse automatique : " if kind == "auto_reply" else "Re: ") + message.subject,
        received_at=at, text=text,
        body=text + "\\n\\nOn Tuesday, Claire Martin wrote:\\n> " + message.subject
        + "\\n> Thanks for joining the webinar.",
        return_date=(now + timedelta(days=6)).date() if flag == "ooo" else None,
        lead_suggestion=suggestion, lead_suggestion_rule=rule, read=i >= 3,
        verdict={"kind": kind, "rules": ["in-reply-to matches our message"]})
    inbound_rows.append(row)
    e.status = "paused" if kind == "auto_reply" else "replied"
    e.stopped_reason = "" if kind == "auto_reply" else "replied"
    e.paused_until = now + timedelta(days=6) if kind == "auto_reply" else None
    e.save()
    if lead:
        Contact.objects.for_workspace(ws).filter(pk=e.contact_id).update(lead_status=lead)
OutboundReply.objects.create(workspace=ws, inbound=inbound_rows[0], mailbox=gmail,
    message_id=new_message_id(gmail.email), subject=inbound_rows[0].subject,
    body="Tuesday at 10 works. I will send an invite.", sent_at=now - timedelta(minutes=20))
print(f"inbound=/inbox/{inbound_rows[0].pk}/")
from webhooks.models import Delivery, DeliveryAttempt, Endpoint, Event
from webhooks.services import DISABLED_GONE, new_secret
hook = Endpoint.objects.create(workspace=ws, url="https://hooks.acme-growth.com/fluenzr",
    description="CRM sync", event_types=["email.replied", "email.bounced"],
    secret=new_secret(), status_since=now - timedelta(days=9),
    failing_since=now - timedelta(minutes=40))  # its latest attempt got a 500
Endpoint.objects.create(workspace=ws, url="https://old-zap.example.com/catch/1234",
    enabled=False, disabled_reason=DISABLED_GONE, secret=new_secret(),
    status_since=now - timedelta(days=2))
for i, (kind, codes) in enumerate([("webhook.test", [200]), ("email.replied", [503, 200]),
                                   ("email.bounced", [500])]):
    event = Event.objects.create(workspace=ws, type=kind, data={"n": i}, fanned_out_at=now)
    delivery = Delivery.objects.create(workspace=ws, endpoint=hook, event=event,
        next_attempt_at=now + timedelta(minutes=5), attempts=len(codes), last_status_code=codes[-1],
        status="succeeded" if codes[-1] == 200 else "pending")
    for code in codes:
        DeliveryAttempt.objects.create(workspace=ws, delivery=delivery, status_code=code,
            latency_ms=120 + 40 * i, succeeded=code == 200, response_body='{"ok": true}',
            error="" if code == 200 else f"The receiver answered {code}; only a 2xx status counts.",
            request_headers={"webhook-id": str(event.pk), "webhook-timestamp": "1763856000",
                             "webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN="})
print(f"webhook=/webhooks/{hook.pk}/")
unknown_enrollment = story[0]
outline = campaigns.campaign_create(workspace=ws, name="SaaS founders — Q3 outreach")
print(f"/contacts/{contact.pk}/ /contacts/imports/{done.pk}/ /contacts/imports/{draft.pk}/ "
      f"/email-accounts/{gmail.pk}/ /email-accounts/{broken.pk}/ /campaigns/{campaign.pk}/ "
      f"/campaigns/{outline.pk}/ /campaigns/enrollments/{unknown_enrollment.pk}/")
"""
VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}
EMAIL, PASSWORD = "demo@example.test", "a demo passphrase"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(paths: list[str]) -> None:
    var_dir = tempfile.mkdtemp(prefix="fluenzr-shots-")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DEBUG="1", VAR_DIR=var_dir, DJANGO_SETTINGS_MODULE="fluenzr.settings")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)  # noqa: S603
    subprocess.run(  # noqa: S603
        [
            *manage,
            "bootstrap_workspace",
            "--email",
            EMAIL,
            "--password",
            PASSWORD,
            "--workspace",
            "Acme Growth",
            "--plan",
            "pro",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    seeded = subprocess.run(  # noqa: S603
        [*manage, "shell", "-c", SEED], env=env, check=True, capture_output=True, text=True
    )
    (
        contact,
        import_done,
        import_draft,
        mailbox,
        mailbox_error,
        campaign,
        campaign_draft,
        enrollment,
    ) = seeded.stdout.split()[-8:]
    known = {
        "contact": contact,
        "import_done": import_done,
        "import_draft": import_draft,
        "mailbox": mailbox,
        "mailbox_error": mailbox_error,
        "campaign": campaign,
        "campaign_draft": campaign_draft,
        "enrollment": enrollment,
    }
    # Printed on its own line before the ids above: `inbound=/inbox/<id>/`.
    known["inbound"] = next(
        word.split("=", 1)[1] for word in seeded.stdout.split() if word.startswith("inbound=")
    )
    known["webhook"] = next(
        word.split("=", 1)[1] for word in seeded.stdout.split() if word.startswith("webhook=")
    )
    paths = [path.format(**known) for path in (paths or PAGES)]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*manage, "runserver", f"127.0.0.1:{port}", "--noreload"], env=env)  # noqa: S603
    try:
        for _ in range(100):
            try:
                httpx.get(base + "/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium.EXECUTABLE, args=chromium.ARGS
            )
            for language in ("en", "fr"):
                for label, (width, height) in VIEWPORTS.items():
                    context = browser.new_context(
                        viewport={"width": width, "height": height}, locale=language
                    )
                    page = context.new_page()
                    for path in paths:
                        signed_in = not path.startswith(("/accounts/login", "/accounts/signup"))
                        if signed_in and "sessionid" not in str(context.cookies()):
                            page.goto(base + "/accounts/login/")
                            page.fill("#id_login", EMAIL)
                            page.fill("#id_password", PASSWORD)
                            page.locator("form button[type=submit]").last.click()
                            page.wait_for_load_state()
                            csrf = next(
                                c["value"] for c in context.cookies() if c["name"] == "csrftoken"
                            )
                            page.request.post(
                                base + "/language/",
                                form={"language": language, "csrfmiddlewaretoken": csrf},
                            )
                        page.goto(base + path)
                        name = path.strip("/").replace("/", "_") or "dashboard"
                        for key, value in known.items():
                            name = name.replace(value.strip("/").replace("/", "_"), key)
                        page.screenshot(path=OUT / f"{name}-{label}-{language}.png", full_page=True)
                    context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
