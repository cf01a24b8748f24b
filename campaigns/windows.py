"""The sending window that applies to one contact of a campaign."""

from __future__ import annotations

import functools
import zoneinfo

from campaigns import schedule
from campaigns.models import Campaign
from contacts.models import Contact


def campaign_window(campaign: Campaign, contact: Contact | None = None) -> schedule.Window:
    """The campaign's window, in the contact's own time zone when the campaign sends in the
    recipient's local time and the contact has a valid one."""
    zone = campaign.timezone
    own = contact.timezone if contact is not None else ""
    if campaign.recipient_local_time and own in _known_zones():
        zone = own
    return schedule.Window(
        timezone=zone,
        weekdays=frozenset(campaign.weekdays),
        start=campaign.window_start,
        end=campaign.window_end,
    )


@functools.cache
def _known_zones() -> frozenset[str]:
    # available_timezones() walks the tz database on disk at every call; the tick asks per contact.
    return frozenset(zoneinfo.available_timezones())
