"""Why an attempt failed, in words.

Stored in English: the delivery log is also read through the API, and a worker has no reader
whose language to pick. The dashboard shows each message in the reader's language by
recognising which one it is and translating it with its values.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from django.utils.translation import gettext, gettext_noop

NOT_2XX = gettext_noop("The receiver answered %(status)s; only a 2xx status counts.")
REDIRECT = gettext_noop("The receiver answered %(status)s; redirects are not followed.")
TOO_SLOW = gettext_noop("The receiver did not answer within %(seconds)s seconds.")
NO_CONNECTION = gettext_noop("Could not connect: %(detail)s")
CONNECTION_FAILED = gettext_noop("The connection failed: %(detail)s")
REQUEST_NOT_MADE = gettext_noop("The request could not be made: %(detail)s")
_DELIVERY_MESSAGES = (
    NOT_2XX,
    REDIRECT,
    TOO_SLOW,
    NO_CONNECTION,
    CONNECTION_FAILED,
    REQUEST_NOT_MADE,
)

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def in_language(template: str, params: Mapping[str, object]) -> str:
    """`template` with its values in the active language. A value may itself be one of the
    messages (the kind of address an SSRF refusal names); a host name or a status is left
    as it is."""
    translated = {
        name: gettext(value) if isinstance(value, str) and value else value
        for name, value in params.items()
    }
    return gettext(template) % translated if params else gettext(template)


def _pattern(template: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(template)  # text, name, text, name, …, text
    return re.compile(
        "".join(
            re.escape(part) if index % 2 == 0 else f"(?P<{part}>.*?)"
            for index, part in enumerate(parts)
        ),
        re.DOTALL,
    )


@functools.cache
def _known() -> tuple[tuple[re.Pattern[str], str], ...]:
    from webhooks.ssrf import MESSAGES  # ssrf builds its messages with in_language above

    return tuple((_pattern(template), template) for template in _DELIVERY_MESSAGES + MESSAGES)


def failure_for_reader(error: str) -> str:
    """A stored failure in the active language; any other text (one FluenzR did not write,
    or an older wording) as it is."""
    for pattern, template in _known():
        if match := pattern.fullmatch(error):
            return in_language(template, match.groupdict())
    return error
