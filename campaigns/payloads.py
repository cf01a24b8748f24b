"""How campaign objects appear in events (webhooks deliver these)."""

from __future__ import annotations

from typing import Any

from campaigns.models import Campaign


def campaign_payload(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": str(campaign.pk),
        "url": f"/api/v1/campaigns/{campaign.pk}/",
        "name": campaign.name,
        "status": campaign.status,
        "status_reason": campaign.status_reason,
    }
