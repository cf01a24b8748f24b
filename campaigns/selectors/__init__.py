"""Reads about campaigns. Import from here: `from campaigns import selectors`.

launch_check.py: variables contacts have no value for; previews.py: the exact email a contact
gets; timing.py: "why not yet" and forecasts; stats.py: numbers, per step, per day;
timeline.py: one contact's story in a campaign.
"""

from campaigns.selectors.launch_check import (
    PYTHON_WHITESPACE,
    UndefinedReport,
    undefined_problem_sentences,
    undefined_variables_report,
)
from campaigns.selectors.previews import PREVIEW_MESSAGE_ID, Preview, compose_for, preview
from campaigns.selectors.stats import (
    DAILY_OUTCOMES,
    DayCount,
    campaign_daily,
    campaign_stats,
    campaigns_with_numbers,
    unknown_messages,
)
from campaigns.selectors.timeline import (
    TimelineEntry,
    end_sentence,
    enrollment_timeline,
    message_time,
)
from campaigns.selectors.timing import Explanation, Forecast, explain, forecast

__all__ = [
    "DAILY_OUTCOMES",
    "PREVIEW_MESSAGE_ID",
    "PYTHON_WHITESPACE",
    "DayCount",
    "Explanation",
    "Forecast",
    "Preview",
    "TimelineEntry",
    "UndefinedReport",
    "campaign_daily",
    "campaign_stats",
    "campaigns_with_numbers",
    "compose_for",
    "end_sentence",
    "enrollment_timeline",
    "explain",
    "forecast",
    "message_time",
    "preview",
    "undefined_problem_sentences",
    "undefined_variables_report",
    "unknown_messages",
]
