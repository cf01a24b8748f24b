"""The pure classifier of inbound email: no database, no campaign, no contact.

``classify(raw)`` tells a reply from an auto-reply, a bounce, a complaint or one of our own
messages, and reads what the sync needs from it; the sync, matching and effects are built on
top of it elsewhere.
"""

from .classify import classify, looks_automated
from .leads import suggest_lead_status
from .verdict import Verdict, verdict_json

__all__ = ["Verdict", "classify", "looks_automated", "suggest_lead_status", "verdict_json"]
