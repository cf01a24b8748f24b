"""HTML bodies of campaign emails: sanitised for sending, and their plain-text alternative.

:func:`sanitize_html` keeps what email clients render safely (formatting tags, http(s)/mailto
links, https images, inline styles that load nothing); :func:`html_to_text` writes the
text/plain part of multipart/alternative from it. campaigns.mime builds the message with both.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import unquote

import nh3

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "center", "cite", "code", "div", "em", "font",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "q", "s",
    "small", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "u", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "*": {"style", "title", "dir", "lang"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "font": {"color", "face", "size"},
    "ol": {"start", "type"},
    "table": {"width", "border", "cellpadding", "cellspacing", "align", "bgcolor"},
    "td": {"width", "align", "valign", "colspan", "rowspan", "bgcolor"},
    "th": {"width", "align", "valign", "colspan", "rowspan", "bgcolor"},
    "tr": {"align", "valign", "bgcolor"},
    "p": {"align"},
    "div": {"align"},
}
# Inline styles are how editors format email; only properties that cannot load anything.
_ALLOWED_STYLES = {
    "color", "background-color", "font-family", "font-size", "font-style", "font-weight",
    "text-align", "text-decoration", "text-transform", "line-height", "letter-spacing",
    "vertical-align", "white-space", "margin", "margin-top", "margin-right", "margin-bottom",
    "margin-left", "padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
    "border", "border-top", "border-right", "border-bottom", "border-left", "border-color",
    "border-style", "border-width", "border-collapse", "border-radius", "width", "height",
    "max-width", "min-width", "display",
}  # fmt: skip


_URL_ATTRIBUTES = {"href", "src"}
_LINK_RE = re.compile(r"(?:https?://|mailto:)", re.I)
_IMAGE_RE = re.compile(r"https://", re.I)


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute not in _URL_ATTRIBUTES:
        return value
    # Absolute URLs only: a relative link means nothing in a mailbox. Remote images only over
    # https (webmails block or flag mixed content); no data: images either.
    allowed = _IMAGE_RE if tag == "img" else _LINK_RE
    return value if allowed.match(value.strip()) else None


_CLEANER = nh3.Cleaner(
    tags=_ALLOWED_TAGS,
    clean_content_tags={"script", "style", "title", "template", "noscript", "iframe", "object"},
    attributes=_ALLOWED_ATTRIBUTES,
    attribute_filter=_filter_attribute,
    url_schemes={"http", "https", "mailto"},
    filter_style_properties=_ALLOWED_STYLES,
)


def sanitize_html(html: str) -> str:
    """Email-safe HTML: formatting tags, http(s)/mailto links, https images; no script,
    event handlers, forms or javascript: URLs."""
    return _CLEANER.clean(html)


_BLOCK = {"div", "tr", "li", "center", "dd", "dt"}  # a line of its own
_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "pre", "blockquote"}
_SKIP = {"script", "style", "head", "title", "template", "noscript"}
_SPACE_RE = re.compile(r"[ \t\n\r\f]+")  # not \xa0: a non-breaking space is meant
_SCHEME_RE = re.compile(r"^(?:https?://|mailto:)", re.I)


def _same_target(text: str, href: str) -> bool:
    def norm(value: str) -> str:
        return _SCHEME_RE.sub("", unquote(value.strip())).rstrip("/").lower()

    return norm(text) == norm(href)


class _TextExtractor(HTMLParser):
    """HTML → readable plain text: paragraphs and line breaks kept, links as `text (url)`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._newlines = 0  # owed before the next text; blocks ask for "at least", <br> adds one
        self._line_start = True
        self._skip = 0  # inside <script>, <style>…
        self._pre = 0
        self._quote = 0  # <blockquote> depth: lines get "> " prefixes
        self._written_quote = 0  # the depth of the last line written
        self._lists: list[list[int]] = []  # [ordered, next number] per open list
        self._links: list[tuple[str, int]] = []  # (href, len(_out) when the <a> opened)

    def _at_least(self, count: int) -> None:
        self._newlines = max(self._newlines, count)

    def _write(self, text: str) -> None:
        if not text:
            return
        if self._newlines and self._out:  # leading breaks are dropped
            # A blank line between two depths belongs to the shallower one.
            blank = ("> " * min(self._quote, self._written_quote)).rstrip()
            self._out.append("\n" + (blank + "\n") * (self._newlines - 1))
            self._line_start = True
        self._newlines = 0
        if self._line_start:
            self._out.append("> " * self._quote)
            self._line_start = False
            self._written_quote = self._quote
        self._out.append(text)

    def _text(self, data: str) -> None:
        text = _SPACE_RE.sub(" ", data)
        if self._newlines or self._line_start or not self._out or self._out[-1].endswith(" "):
            text = text.lstrip(" ")
        self._write(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag == "br":
            self._newlines += 1
        elif tag == "hr":
            self._at_least(2)
            self._write("----")
            self._at_least(2)
        elif tag in _PARAGRAPH or tag in _BLOCK:
            self._at_least(2 if tag in _PARAGRAPH else 1)
            if tag == "pre":
                self._pre += 1
            elif tag == "blockquote":
                self._quote += 1
            elif tag in {"ul", "ol"}:
                self._lists.append([tag == "ol", 1])
            elif tag == "li":
                self._list_marker()
        elif tag == "a":
            self._links.append((dict(attrs).get("href") or "", len(self._out)))
        elif tag == "img":
            self._text((dict(attrs).get("alt") or "").strip())
        elif tag in {"td", "th"}:
            self._text(" ")  # cells of a row on one line, apart

    def _list_marker(self) -> None:
        ordered, number = self._lists[-1] if self._lists else (False, 0)
        indent = "  " * max(0, len(self._lists) - 1)
        self._write(f"{indent}{number}. " if ordered else f"{indent}- ")
        if self._lists:
            self._lists[-1][1] = number + 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _PARAGRAPH or tag in _BLOCK:
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            elif tag == "blockquote":
                self._quote = max(0, self._quote - 1)
            elif tag in {"ul", "ol"} and self._lists:
                self._lists.pop()
            self._at_least(2 if tag in _PARAGRAPH else 1)
        elif tag == "a" and self._links:
            href, start = self._links.pop()
            self._link_target(href.strip(), "".join(self._out[start:]).strip())

    def _link_target(self, href: str, text: str) -> None:
        if not _SCHEME_RE.match(href):
            return
        shown = unquote(href[7:].split("?", 1)[0]) if href.lower().startswith("mailto:") else href
        if not text:
            self._text(shown)
        elif not _same_target(text, shown):
            self._write(f" ({shown})")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if not self._pre:
            self._text(data)
            return
        for i, line in enumerate(data.replace("\r\n", "\n").split("\n")):
            if i:
                self._newlines += 1
            self._write(line)
        # a line that is empty in <pre> still counts
        if data.endswith("\n"):
            self._line_start = True

    def result(self) -> str:
        text = "".join(self._out).replace("\xa0", " ")
        lines = [line.rstrip() for line in text.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def html_to_text(html: str) -> str:
    """A readable plain-text version of an HTML body (the multipart/alternative text part)."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return parser.result()
