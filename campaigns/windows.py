"""The sending window that applies to one contact of a campaign."""

from __future__ import annotations

import zoneinfo

from campaigns import schedule
from campaigns.models import Campaign
from contacts.models import Contact


def campaign_window(campaign: Campaign, contact: Contact | None = None) -> schedule.Window:
    """The campaign's window, in the contact's own time zone when the campaign sends in the
    recipient's local time and the contact has a valid one."""
    zone = campaign.timezone
    own = contact.timezone if contact is not None else ""
    if campaign.recipient_local_time and own in zoneinfo.available_timezones():
        zone = own
    return schedule.Window(
        timezone=zone,
        weekdays=frozenset(campaign.weekdays),
        start=campaign.window_start,
        end=campaign.window_end,
    )
