"""Plans, defined once: a table of limits. Services enforce them with a clear message."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class PlanCode(models.TextChoices):
    FREE = "free", _("Free")
    STARTER = "starter", _("Starter")
    PRO = "pro", _("Pro")


@dataclass(frozen=True)
class Plan:
    code: PlanCode
    max_mailboxes: int | None  # None = unlimited
    api: bool
    webhooks: bool
    custom_tracking_domain: bool
    warming: bool

    @property
    def name(self) -> str:
        return str(self.code.label)


PLANS: dict[str, Plan] = {
    PlanCode.FREE: Plan(
        PlanCode.FREE,
        max_mailboxes=1,
        api=False,
        webhooks=False,
        custom_tracking_domain=False,
        warming=False,
    ),
    PlanCode.STARTER: Plan(
        PlanCode.STARTER,
        max_mailboxes=5,
        api=False,
        webhooks=False,
        custom_tracking_domain=False,
        warming=True,
    ),
    PlanCode.PRO: Plan(
        PlanCode.PRO,
        max_mailboxes=None,
        api=True,
        webhooks=True,
        custom_tracking_domain=True,
        warming=True,
    ),
}

# Ordered cheapest first, so an error can name the cheapest plan that lifts a limit.
PLAN_ORDER = [PlanCode.FREE, PlanCode.STARTER, PlanCode.PRO]

FEATURE_NAMES = {
    "api": _("The REST API"),
    "webhooks": _("Webhooks"),
    "custom_tracking_domain": _("A custom tracking domain"),
    "warming": _("Mailbox warm-up"),
}


def plan_for(code: str) -> Plan:
    return PLANS[code]


def cheapest_plan_with(feature: str) -> Plan:
    return next(PLANS[code] for code in PLAN_ORDER if getattr(PLANS[code], feature))


def cheapest_plan_allowing(limit: str, count: int) -> Plan | None:
    for code in PLAN_ORDER:
        maximum = getattr(PLANS[code], limit)
        if maximum is None or count <= maximum:
            return PLANS[code]
    return None
