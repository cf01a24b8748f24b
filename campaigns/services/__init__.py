"""Every write to a campaign outside the engine. Import from here: `from campaigns import services`.

campaigns.py: create, settings, launch checks, launch, pause, resume; sequence.py: steps and
their A/B variants; enrollment.py: contacts and lists into a campaign; messages.py: send again or
mark sent an email of unknown outcome; preview.py: the preview's mailbox and its test email.
"""

from campaigns.services.campaigns import (
    CAMPAIGN_SETTINGS,
    campaign_create,
    campaign_launch,
    campaign_pause,
    campaign_resume,
    campaign_update,
    launch_problems,
)
from campaigns.services.enrollment import EnrollResult, campaign_enroll, campaign_enroll_lists
from campaigns.services.messages import message_mark_sent, message_send_again
from campaigns.services.preview import preview_mailbox, preview_send_test, undefined_sentence
from campaigns.services.sequence import (
    MAX_VARIANT_WEIGHT,
    WEIGHT_RANGE_MESSAGE,
    step_add,
    step_delete,
    step_update,
    variant_add,
    variant_delete,
    variant_update,
)

__all__ = [
    "CAMPAIGN_SETTINGS",
    "MAX_VARIANT_WEIGHT",
    "WEIGHT_RANGE_MESSAGE",
    "EnrollResult",
    "campaign_create",
    "campaign_enroll",
    "campaign_enroll_lists",
    "campaign_launch",
    "campaign_pause",
    "campaign_resume",
    "campaign_update",
    "launch_problems",
    "message_mark_sent",
    "message_send_again",
    "preview_mailbox",
    "preview_send_test",
    "step_add",
    "step_delete",
    "step_update",
    "undefined_sentence",
    "variant_add",
    "variant_delete",
    "variant_update",
]
