"""Contacts into a campaign: one by one or whole lists, skipped ones counted by reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Workspace
from accounts.services import require_in_workspace
from campaigns.models import Campaign, CampaignStatus, Enrollment
from contacts.models import Contact, ContactList, ContactStatus
from contacts.selectors import suppressed_emails


@dataclass
class EnrollResult:
    added: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason → count


def campaign_enroll(
    *,
    workspace: Workspace,
    campaign: Campaign,
    contacts: QuerySet[Contact],
    now: datetime | None = None,
) -> EnrollResult:
    """Add contacts; suppressed, bounced, unsubscribed and already-enrolled ones are skipped
    with a count per reason. One enrollment per (campaign, contact), enforced by the DB."""
    require_in_workspace(campaign, workspace)
    now = now or timezone.now()
    result = EnrollResult()
    already = set(
        Enrollment.objects.for_workspace(workspace)
        .filter(campaign=campaign)
        .values_list("contact_id", flat=True)
    )
    running = campaign.status == CampaignStatus.ACTIVE
    candidates = list(contacts.filter(workspace=workspace))
    suppressed = suppressed_emails(workspace=workspace, emails=(c.email for c in candidates))
    new = []
    for contact in candidates:
        if contact.pk in already:
            result.skipped["already_enrolled"] += 1
            continue
        if contact.status != ContactStatus.ACTIVE:
            result.skipped[contact.status] += 1
            continue
        if contact.email.lower() in suppressed:
            result.skipped["suppressed"] += 1
            continue
        new.append(
            Enrollment(
                workspace=workspace,
                campaign=campaign,
                contact=contact,
                due_at=now if running else None,
            )
        )
    created = Enrollment.objects.for_workspace(workspace).bulk_create(
        new, ignore_conflicts=True, batch_size=1000
    )
    result.added = len(created)
    return result


def campaign_enroll_lists(
    *, workspace: Workspace, campaign: Campaign, lists: Iterable[ContactList]
) -> EnrollResult:
    ids = [contact_list.pk for contact_list in lists]
    for contact_list in lists:
        require_in_workspace(contact_list, workspace)
    contacts = Contact.objects.for_workspace(workspace).filter(lists__in=ids).distinct()
    return campaign_enroll(workspace=workspace, campaign=campaign, contacts=contacts)
