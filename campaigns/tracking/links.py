"""What tracking and unsubscribing add to an outgoing email: the links (on the workspace's
verified tracking domain, else SITE_URL), the List-Unsubscribe headers (RFC 2369, RFC 8058),
the visible unsubscribe line, the open pixel and the rewritten links.

Plain-text emails get the unsubscribe line and headers only: no pixel (no image to load) and no
rewritten links (a bare tracking URL in a text email looks like phishing).
"""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from campaigns.html_body import html_to_text, sanitize_html
from campaigns.models import Campaign, TrackingDomain, TrackingDomainStatus
from campaigns.tracking.tokens import MAX_URL_LENGTH, PREVIEW_MESSAGE_ID, Purpose, make_token

# In sanitised HTML (nh3's output) every attribute is double-quoted and entity-escaped.
_HREF_RE = re.compile(r'(<a\b[^>]*?\bhref=")([^"]*)(")', re.IGNORECASE)
_WEB_RE = re.compile(r"https?://", re.IGNORECASE)


def tracking_base_url(*, workspace_id: uuid.UUID) -> str:
    """https://<the verified custom domain>, else SITE_URL."""
    hostname = (
        TrackingDomain.objects.unscoped()
        .filter(workspace_id=workspace_id, status=TrackingDomainStatus.VERIFIED)
        .values_list("hostname", flat=True)
        .first()
    )
    return f"https://{hostname}" if hostname else settings.SITE_URL.rstrip("/")


@dataclass(frozen=True)
class Links:
    base: str
    message_id: uuid.UUID

    def open_url(self) -> str:
        return f"{self.base}/o/{make_token(Purpose.OPEN, self.message_id)}.gif"

    def click_url(self, url: str) -> str:
        return f"{self.base}/c/{make_token(Purpose.CLICK, self.message_id, url)}/"

    def unsubscribe_url(self) -> str:
        return f"{self.base}/u/{make_token(Purpose.UNSUBSCRIBE, self.message_id)}/"


def unsubscribe_headers(links: Links, *, sender_email: str) -> dict[str, str]:
    """RFC 2369 List-Unsubscribe (https first, mailto to the sending mailbox as the fallback)
    and RFC 8058 List-Unsubscribe-Post, which Gmail and Yahoo require of bulk senders."""
    return {
        "List-Unsubscribe": f"<{links.unsubscribe_url()}>, <mailto:{sender_email}"
        "?subject=unsubscribe>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _unsubscribe_words(language: str) -> tuple[str, str]:
    with translation.override(language):
        return _("Unsubscribe: %(url)s"), _("Unsubscribe")


def add_unsubscribe_text(text: str, url: str, *, language: str) -> str:
    line, _word = _unsubscribe_words(language)
    return f"{text.rstrip()}\n\n{line % {'url': url}}\n"


def add_unsubscribe_html(fragment: str, url: str, *, language: str) -> str:
    _line, word = _unsubscribe_words(language)
    return (
        f'{fragment}\n<p style="font-size: 12px; color: #888888">'
        f'<a href="{html.escape(url)}">{html.escape(word)}</a></p>'
    )


def add_pixel(fragment: str, links: Links) -> str:
    return (
        f'{fragment}\n<img src="{html.escape(links.open_url())}" alt="" width="1" height="1" '
        'style="display: block; border: 0; width: 1px; height: 1px">'
    )


def rewrite_links(fragment: str, links: Links, *, keep: str = "") -> str:
    """Every http(s) link of sanitised HTML through the click redirect, except `keep` (the
    unsubscribe link) and links too long to sign; mailto: links are left alone."""

    def replace(match: re.Match[str]) -> str:
        url = html.unescape(match.group(2)).strip()
        if not _WEB_RE.match(url) or url == keep or len(url) > MAX_URL_LENGTH:
            return match.group(0)
        return f"{match.group(1)}{html.escape(links.click_url(url))}{match.group(3)}"

    return _HREF_RE.sub(replace, fragment)


@dataclass(frozen=True)
class Decorated:
    text: str  # the text/plain body (with HTML: its alternative, keeping the real links)
    html: str  # "" for a plain-text campaign
    headers: dict[str, str]


def decorate(
    *,
    campaign: Campaign,
    body: str,
    html: bool,
    sender_email: str,
    message_pk: uuid.UUID | None,
    language: str = "",
) -> Decorated:
    """The rendered body as it leaves: with the unsubscribe line and headers when the campaign
    has them on, and for HTML campaigns the open pixel and click-tracked links when those are
    on. `message_pk` is the OutboundMessage the links act on; None for a preview or a test
    email, whose links are signed for no message."""
    if not campaign.unsubscribe_link and not (
        html and (campaign.track_opens or campaign.track_clicks)
    ):
        return Decorated(text="" if html else body, html=body if html else "", headers={})
    language = language or settings.LANGUAGE_CODE
    links = Links(
        base=tracking_base_url(workspace_id=campaign.workspace_id),
        message_id=message_pk or PREVIEW_MESSAGE_ID,
    )
    headers: dict[str, str] = {}
    unsubscribe = links.unsubscribe_url() if campaign.unsubscribe_link else ""
    if unsubscribe:
        headers = unsubscribe_headers(links, sender_email=sender_email)
    if not html:
        if unsubscribe:
            body = add_unsubscribe_text(body, unsubscribe, language=language)
        return Decorated(text=body, html="", headers=headers)
    fragment = sanitize_html(body)
    if unsubscribe:
        fragment = add_unsubscribe_html(fragment, unsubscribe, language=language)
    text = html_to_text(fragment)
    if campaign.track_clicks:
        fragment = rewrite_links(fragment, links, keep=unsubscribe)
    if campaign.track_opens:
        fragment = add_pixel(fragment, links)
    return Decorated(text=text, html=fragment, headers=headers)
