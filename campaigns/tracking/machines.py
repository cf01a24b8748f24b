"""Who is really opening and clicking: known image proxies and link scanners.

Their opens and clicks are recorded but flagged, and left out of the human rates. The lists are
the agents documented or widely observed; each flag names its reason (`flag_reason`).
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta

from django.conf import settings

# Image proxies fetch every pixel on delivery or on open, whoever reads the email.
_IMAGE_PROXY_RE = re.compile(
    r"GoogleImageProxy|ggpht\.com"  # Gmail
    r"|YahooMailProxy|Yahoo! Slurp|AOL Mail Proxy"  # Yahoo and AOL (same proxy)
    r"|Microsoft Office|ms-office|MSOffice|Outlook-Image|OutlookImageProxy"  # Outlook prefetch
    r"|Superhuman|Front/|Mimecast|Barracuda|Proofpoint",
    re.IGNORECASE,
)
# Link scanners follow every link of an email before (or instead of) the recipient.
_LINK_SCANNER_RE = re.compile(
    r"BingPreview|SafeLinks|Safe Links|Microsoft Office|ms-office|MSOffice"  # Microsoft
    r"|Barracuda|Proofpoint|ppops|Mimecast|Symantec|Forcepoint|TrendMicro|Trend Micro"
    r"|Sophos|Cisco|IronPort|FireEye|Zscaler|Fortinet|Palo Alto|urldefense"
    r"|HeadlessChrome|PhantomJS|python-requests|python-urllib|curl/|Wget|Go-http-client"
    r"|okhttp|Java/|libwww|\bbot\b|crawler|spider|scanner",
    re.IGNORECASE,
)
# Apple Mail Privacy Protection loads images through Apple's relays with a bare user agent.
_APPLE_MPP_AGENTS = frozenset({"Mozilla/5.0", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"})
# Networks whose requests are proxies, not people: Apple (Mail Privacy Protection relays) and
# Google's image proxy (googleusercontent/ggpht fetchers).
_PROXY_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("17.0.0.0/8", "66.102.0.0/20", "66.249.80.0/20", "74.125.0.0/16")
)


def _in_proxy_network(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in _PROXY_NETWORKS)


def too_soon(sent_at: datetime | None, now: datetime) -> bool:
    """Within TRACKING_MACHINE_SECONDS of the send (or before it was even recorded): a filter
    or proxy fetching on delivery, not a reader."""
    if sent_at is None:
        return True
    return now - sent_at < timedelta(seconds=settings.TRACKING_MACHINE_SECONDS)


def open_agent_flag(*, user_agent: str, ip: str) -> str:
    """Why this open is a proxy's, from who asked ("" when it may be a person)."""
    agent = user_agent.strip()
    if _IMAGE_PROXY_RE.search(agent):
        return "image_proxy"
    if agent in _APPLE_MPP_AGENTS or _in_proxy_network(ip):
        return "privacy_proxy"
    return ""


def click_agent_flag(*, user_agent: str, ip: str, method: str) -> str:
    """Why this click is a scanner's, from who asked ("" when it may be a person)."""
    if method == "HEAD":
        return "head_request"
    agent = user_agent.strip()
    if not agent or _LINK_SCANNER_RE.search(agent):
        return "link_scanner"
    if _in_proxy_network(ip):
        return "privacy_proxy"
    return ""
