"""A campaign's numbers: the list's counts, outcomes per step and variant, per day, and the
emails whose outcome is unknown."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from campaigns.models import (
    BounceClass,
    Campaign,
    EnrollmentStatus,
    InboundEmail,
    InboundKind,
    MessageStatus,
    OutboundMessage,
    TrackingEvent,
)


def campaigns_with_numbers(*, workspace) -> QuerySet[Campaign]:
    """The campaign list's numbers in one query: contacts, emails that left (sent or bounced
    at send time), bounced."""
    left = (MessageStatus.SENT, MessageStatus.BOUNCED)
    return Campaign.objects.for_workspace(workspace).annotate(
        contact_count=Count("enrollments", distinct=True),
        sent_count=Count("enrollments__messages", filter=Q(enrollments__messages__status__in=left)),
        bounced_count=Count(
            "enrollments__messages",
            filter=Q(enrollments__messages__status=MessageStatus.BOUNCED),
        ),
    )


def _has(model, **conditions) -> Exists:
    return Exists(model.objects.unscoped().filter(**conditions))


def campaign_stats(campaign: Campaign) -> dict:
    """Contacts by state, and per step and variant: emails by outcome, replies (human and
    automatic), bounces by class, unsubscribes, opens and clicks (human, and those flagged as
    machines: image proxies, link scanners, the first seconds after sending). Each email
    counts once per column, whatever number of replies, opens or clicks it got. One query for
    the states, one for the rest."""
    by_state = dict(
        campaign.enrollments.values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    this = OuterRef("pk")
    inbound = {"answers": this}
    rows = (
        OutboundMessage.objects.for_workspace(campaign.workspace)
        .filter(enrollment__campaign=campaign)
        .values("step__position", "variant__label")
        .annotate(
            sent=Count("pk", filter=Q(status__in=(MessageStatus.SENT, MessageStatus.BOUNCED))),
            bounced=Count("pk", filter=Q(status=MessageStatus.BOUNCED)),
            failed=Count("pk", filter=Q(status=MessageStatus.FAILED)),
            unknown=Count("pk", filter=Q(status=MessageStatus.UNKNOWN)),
            replied=Count("pk", filter=Q(_has(InboundEmail, kind=InboundKind.REPLY, **inbound))),
            auto_replied=Count(
                "pk", filter=Q(_has(InboundEmail, kind=InboundKind.AUTO_REPLY, **inbound))
            ),
            soft_bounced=Count(
                "pk", filter=Q(_has(InboundEmail, bounce_class=BounceClass.SOFT, **inbound))
            ),
            blocked=Count(
                "pk", filter=Q(_has(InboundEmail, bounce_class=BounceClass.BLOCK, **inbound))
            ),
            unsubscribed=Count(
                "pk",
                filter=Q(
                    enrollment__status=EnrollmentStatus.UNSUBSCRIBED,
                    enrollment__last_message_id=F("message_id"),
                ),
            ),
            opened=Count(
                "pk", filter=Q(_has(TrackingEvent, message=this, kind="open", flagged=False))
            ),
            opened_flagged=Count(
                "pk", filter=Q(_has(TrackingEvent, message=this, kind="open", flagged=True))
            ),
            clicked=Count(
                "pk", filter=Q(_has(TrackingEvent, message=this, kind="click", flagged=False))
            ),
            clicked_flagged=Count(
                "pk", filter=Q(_has(TrackingEvent, message=this, kind="click", flagged=True))
            ),
        )
        .order_by("step__position", "variant__label")
    )
    steps = [
        {**{k: v for k, v in row.items() if "__" not in k}, "step": row["step__position"] + 1,
         "variant": row["variant__label"]}
        for row in rows
    ]  # fmt: skip
    for row in steps:
        sent = row["sent"]
        row["reply_rate"] = round(100 * row["replied"] / sent, 1) if sent else None
        row["open_rate"] = round(100 * row["opened"] / sent, 1) if sent else None
    return {
        "contacts": {status: by_state.get(status, 0) for status in EnrollmentStatus.values},
        "steps": steps,
        "totals": {key: sum(row[key] for row in steps) for key in STAT_COLUMNS},
    }


# Per step and variant, and summed for the campaign: the columns campaign_stats counts.
STAT_COLUMNS = (
    "sent", "opened", "opened_flagged", "clicked", "clicked_flagged", "replied",
    "auto_replied", "bounced", "soft_bounced", "blocked", "unsubscribed", "failed", "unknown",
)  # fmt: skip


# What the daily chart counts: emails that left (or were refused) and those that gave up.
DAILY_OUTCOMES = (MessageStatus.SENT, MessageStatus.BOUNCED, MessageStatus.FAILED)


class DayCount(NamedTuple):
    day: date  # a local day of the campaign (its window's time zone)
    sent: int
    bounced: int
    failed: int


def campaign_daily(
    campaign: Campaign, *, days: int = 30, now: datetime | None = None
) -> list[DayCount]:
    """Emails sent, bounced and failed on each local day of the campaign (its window's time
    zone), over the last `days` days or since the launch when that is later; days without an
    email are there with zeros. One query.

    A sent email counts on the day it was sent; a bounce or a failure on the day of its last
    attempt (the send that the server refused, or the last retry)."""
    if campaign.launched_at is None:
        return []
    now = now or timezone.now()
    zone = ZoneInfo(campaign.timezone)
    today = now.astimezone(zone).date()
    first = max(today - timedelta(days=days - 1), campaign.launched_at.astimezone(zone).date())
    if first > today:
        return []
    since = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    rows = (
        OutboundMessage.objects.for_workspace(campaign.workspace)
        .filter(enrollment__campaign=campaign, status__in=DAILY_OUTCOMES)
        .alias(at=Coalesce("sent_at", "sending_started_at", "next_attempt_at"))
        .filter(at__gte=since)
        .annotate(day=TruncDate("at", tzinfo=zone))
        .values("day")
        .annotate(
            sent=Count("pk", filter=Q(status=MessageStatus.SENT)),
            bounced=Count("pk", filter=Q(status=MessageStatus.BOUNCED)),
            failed=Count("pk", filter=Q(status=MessageStatus.FAILED)),
        )
        .order_by("day")
    )
    found = {row["day"]: row for row in rows}
    result = []
    for offset in range((today - first).days + 1):
        day = first + timedelta(days=offset)
        row = found.get(day)
        result.append(
            DayCount(day, row["sent"], row["bounced"], row["failed"])
            if row
            else DayCount(day, 0, 0, 0)
        )
    return result


def unknown_messages(campaign: Campaign, *, limit: int = 20) -> list[OutboundMessage]:
    """The campaign's emails whose outcome is unknown (not found in the mailbox's Sent folder):
    a person decides, on the contact's timeline, whether each goes again."""
    return list(
        OutboundMessage.objects.for_workspace(campaign.workspace)
        .filter(enrollment__campaign=campaign, status=MessageStatus.UNKNOWN)
        .select_related("enrollment__contact", "step")
        .order_by("sending_started_at", "pk")[:limit]
    )
