"""A reply's new text without the quoted history (English and French mail clients).

mail-parser-reply splits the text at the attribution lines it knows ("On … wrote:",
« Le … a écrit : », Outlook "From:/Sent:" and « De : / Envoyé : » blocks, "-----Original
Message-----"); before it runs, this module cuts at the separators it misses (« -----Message
d'origine----- », forwarded-message banners, attributions folded over two lines), and after it,
drops "> " quoted lines — which also handles bottom-posted replies.
"""

from __future__ import annotations

import re
import warnings

from mailparser_reply import EmailReplyParser

_SEPARATORS = re.compile(
    r"^[ \t>]*(?:"
    r"-{2,}\s*(?:Original Message|Message d'origine|Message original|Forwarded message|"
    r"Message transf[ée]r[ée]|Mensaje original)\s*-{2,}"
    r"|(?:Begin forwarded message|D[ée]but du message (?:r[ée]exp[ée]di[ée]|transf[ée]r[ée]))\s*:"
    r"|_{20,}"
    r"|On\s[^\n]{0,200}(?:\n[^\n]{0,200})?\swrote\s?:[ \t]*$"
    r"|Le\s[^\n]{0,200}(?:\n[^\n]{0,200})?\sa\s[ée]crit\s?:[ \t]*$"
    r"|\*?(?:From|De)\s?:\*?[^\n]*\n(?:[^\n]*\n){0,2}?[ \t>]*\*?(?:Sent|Envoy[ée]|Date)\s?:"
    r")",
    re.IGNORECASE | re.MULTILINE,
)
_QUOTED_LINE = re.compile(r"^[ \t]*>")
LONG_LINE = 200
MAX_CHARS = 50_000  # a reply's own text is near the top; bound the regex work on huge bodies
_LONG_LINE = re.compile(rf"^[^\n]{{{LONG_LINE},}}$", re.MULTILINE)
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")
_PARSER = EmailReplyParser(languages=["fr", "en"])


def extract_reply(body: str) -> str:
    """The text the sender wrote in this message (top- or bottom-posted), without quotes."""
    text = body[:MAX_CHARS].replace("\r\n", "\n").replace("\u00a0", " ").replace("\u202f", " ")
    match = _SEPARATORS.search(text)
    head = text[: match.start()] if match else text
    if match and not _unquoted(head).strip():
        # Bottom-posted: the attribution comes first; the reply is below the quoted block.
        return _bottom_posted(text[match.end() :])
    parsed = _parse_with_library(head)
    if parsed is None or not parsed.strip():
        parsed = head
    return _tidy(_unquoted(parsed))


def _parse_with_library(text: str) -> str | None:
    """mail-parser-reply's latest reply, with long lines kept away from its regexes.

    Its attribution patterns backtrack badly on long lines (seconds for a 10 kB line starting
    with "On"); attribution lines are short, so long lines are swapped for placeholders and
    restored afterwards.
    """
    long_lines: list[str] = []

    def hide(match: re.Match) -> str:
        long_lines.append(match.group(0))
        return f"\x00{len(long_lines) - 1}\x00"

    hidden = _LONG_LINE.sub(hide, text)
    try:
        with warnings.catch_warnings():
            # mail-parser-reply 1.36 passes re.MULTILINE as re.sub's count (DeprecationWarning).
            warnings.simplefilter("ignore", DeprecationWarning)
            parsed = _PARSER.parse_reply(hidden)
    except Exception:  # the library's regexes on hostile input must not break classification
        return None
    if parsed is None:
        return None
    return _PLACEHOLDER.sub(lambda m: long_lines[int(m.group(1))].strip(), parsed)


def _unquoted(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not _QUOTED_LINE.match(line))


def _bottom_posted(rest: str) -> str:
    lines = rest.split("\n")
    own = [line for line in lines if not _QUOTED_LINE.match(line)]
    text = "\n".join(own)
    # A further attribution below the reply would be older history: cut there too.
    match = _SEPARATORS.search(text)
    if match and text[: match.start()].strip():
        text = text[: match.start()]
    return _tidy(text)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
