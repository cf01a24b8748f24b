"""Email templates: ``{{variables}}`` with fallbacks, and deterministic spintax.

Pure functions, no database: callers build a :class:`RenderContext` from a contact, its custom
fields and the sending mailbox, and get the exact text that contact will receive.

Grammar
-------
- ``{{name}}`` / ``{{ name | fallback }}``: a variable. The name is a contact field in camelCase
  (:data:`CONTACT_FIELDS`), ``sender.<field>`` (:data:`SENDER_FIELDS`) or a custom-field key.
  Everything after the first ``|`` is the fallback (spaces and accents allowed, not ``}}``);
  ``{{name|}}`` is an explicit empty fallback. A variable whose value is empty and that has no
  fallback is *undefined*, and rendering it raises :class:`UndefinedVariable`.
- ``{a|b|c}``: spintax, single braces, nestable (``{Hi|Hello {there|friend}}``). The option is
  chosen from a SHA-256 of ``f"{ctx.seed}:{group_index}"``, so the same contact always gets
  the same email (previews match what is sent). Braces without a top-level ``|`` (``{x}``,
  CSS in an HTML body) and unbalanced braces are kept as literal text.

Substituted values are never parsed as template syntax: a company called ``A{b|c}`` is sent
as is.
"""

from __future__ import annotations

import functools
import hashlib
import html as html_lib
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "CONTACT_FIELDS",
    "SENDER_FIELDS",
    "RenderContext",
    "UndefinedVariable",
    "Variable",
    "is_sender_variable",
    "known_variable_names",
    "missing_values",
    "render",
    "required_variables",
    "undefined_variables",
    "variables_in",
]

# camelCase template name → Contact model field (for callers building RenderContext.contact).
CONTACT_FIELDS: Mapping[str, str] = {
    "firstName": "first_name",
    "lastName": "last_name",
    "email": "email",
    "company": "company",
    "title": "title",
    "website": "website",
    "phone": "phone",
    "linkedinUrl": "linkedin_url",
    "country": "country",
    "timezone": "timezone",
}
SENDER_FIELDS: tuple[str, ...] = ("firstName", "lastName", "name", "email", "signature")
_SENDER_PREFIX = "sender."


@dataclass(frozen=True)
class Variable:
    name: str
    fallback: str | None  # None: no `|`; "" is an explicit empty fallback


@dataclass(frozen=True)
class RenderContext:
    contact: Mapping[str, str]  # camelCase contact fields → values ("" when empty)
    custom: Mapping[str, str]  # custom fields, by their stored key
    sender: Mapping[str, str]  # firstName, lastName, name, email, signature
    seed: str  # per (contact, campaign, step): makes spintax deterministic


class UndefinedVariable(Exception):
    """Some variables have no value and no fallback; the email must not be sent."""

    def __init__(self, names: list[str] | tuple[str, ...]) -> None:
        self.names: tuple[str, ...] = tuple(names)
        super().__init__(f"Undefined variables: {', '.join(self.names)}")


def known_variable_names() -> list[str]:
    """Names offered by the editor's variable menu (custom keys are per workspace: add them)."""
    return [*CONTACT_FIELDS, *(_SENDER_PREFIX + field for field in SENDER_FIELDS)]


# --- parsing ---------------------------------------------------------------------------------


def _parse_variable(body: str) -> Variable:
    name, bar, fallback = body.partition("|")
    # Rich-text editors put `&nbsp;` around what the user typed; names never contain entities.
    name = html_lib.unescape(name).strip()
    return Variable(name=name, fallback=fallback.strip() if bar else None)


@dataclass(frozen=True)
class _Text:
    text: str


@dataclass(frozen=True)
class _Var:
    variable: Variable


@dataclass(frozen=True)
class _Group:
    index: int  # pre-order position among the template's groups: fixed by the text alone
    options: tuple[tuple[_Node, ...], ...]


_Node = _Text | _Var | _Group

# A variable is `{{…}}` on one line whose body holds no `{` and no `}}` (a lone `}` may sit in a
# fallback), so `{{{firstName}}|x}` reads as spintax around a variable.
_TOKEN_RE = re.compile(r"\{\{(?:[^{}\n]|\}(?!\}))*\}\}|[{}|]")
_MAX_DEPTH = 32  # deeper braces are literal: bounded recursion whatever the user types


def _tokens(text: str) -> list[str | Variable]:
    """Literal strings, the single characters `{`, `}`, `|`, and variables."""
    out: list[str | Variable] = []
    pos = 0
    for match in _TOKEN_RE.finditer(text):
        if match.start() > pos:
            out.append(text[pos : match.start()])
        piece = match.group()
        out.append(_parse_variable(piece[2:-2]) if len(piece) > 1 else piece)
        pos = match.end()
    if pos < len(text):
        out.append(text[pos:])
    return out


# A campaign's few templates are rendered for thousands of contacts (sends, launch checks):
# parse each text once. The tree is immutable, so sharing it is safe.
@functools.lru_cache(maxsize=256)
def _parse(text: str) -> tuple[_Node, ...]:
    tokens = _tokens(text)
    # Match braces first (one linear pass) so unbalanced ones never cause backtracking.
    closing: dict[int, int] = {}
    stack: list[int] = []
    for i, piece in enumerate(tokens):
        if piece == "{" and len(stack) < _MAX_DEPTH:
            stack.append(i)
        elif piece == "}" and stack:
            closing[stack.pop()] = i
    counter = itertools.count()

    def options(start: int, end: int, *, split: bool) -> list[list[_Node]]:
        found: list[list[_Node]] = [[]]
        i = start
        while i < end:
            piece = tokens[i]
            if isinstance(piece, Variable):
                found[-1].append(_Var(piece))
            elif piece == "|" and split:
                found.append([])
            elif piece == "{" and i in closing:
                index = next(counter)  # before the inner groups: pre-order
                inner = options(i + 1, closing[i], split=True)
                if len(inner) > 1:
                    found[-1].append(_Group(index, tuple(tuple(option) for option in inner)))
                else:  # `{x}` is not spintax (CSS, literal braces): keep it, render inside
                    found[-1].extend([_Text("{"), *inner[0], _Text("}")])
                i = closing[i]
            else:  # text, or a stray `{` `}` `|`
                found[-1].append(_Text(piece))
            i += 1
        return found

    return tuple(options(0, len(tokens), split=False)[0])


def _walk_variables(nodes: tuple[_Node, ...]) -> list[Variable]:
    found: list[Variable] = []
    for node in nodes:
        if isinstance(node, _Var):
            found.append(node.variable)
        elif isinstance(node, _Group):
            for option in node.options:
                found.extend(_walk_variables(option))
    return found


# --- values ----------------------------------------------------------------------------------


def _value(name: str, ctx: RenderContext) -> str:
    """The variable's value, "" when empty or unknown."""
    if name.startswith(_SENDER_PREFIX):
        field = name.removeprefix(_SENDER_PREFIX)
        raw = ctx.sender.get(field) if field in SENDER_FIELDS else None
    elif name in CONTACT_FIELDS:
        # A custom key never shadows a contact field: `{{email}}` is always the address.
        raw = ctx.contact.get(name)
    else:
        raw = ctx.custom.get(name)
    # Custom fields come from JSON and may hold numbers; None is empty.
    return "" if raw is None else str(raw).strip()


def variables_in(text: str) -> list[Variable]:
    """Every variable in `text`, in every spintax option, in order of appearance."""
    return _walk_variables(_parse(text))


def is_sender_variable(name: str) -> bool:
    """`sender.…` names take their value from the sending mailbox, not from the contact."""
    return name.startswith(_SENDER_PREFIX)


def required_variables(text: str) -> set[str]:
    """Names used without a fallback anywhere in `text`, in every spintax option: the ones a
    contact (or, for `sender.…`, the mailbox) must have a value for, or the email is not sent.
    A contact with a value for each of them never has an undefined variable in `text`."""
    return {variable.name for variable in variables_in(text) if variable.fallback is None}


def undefined_variables(text: str, ctx: RenderContext) -> list[str]:
    """Names (deduplicated, in order) that have no value for this contact and no fallback.

    Every spintax option counts, not only the one this contact gets: whether a campaign can
    launch must not depend on the luck of the draw.
    """
    return missing_values(
        (variable.name for variable in variables_in(text) if variable.fallback is None), ctx
    )


def missing_values(names: Iterable[str], ctx: RenderContext) -> list[str]:
    """Of these variable names, the ones with no value in `ctx` (deduplicated, in order): with
    :func:`required_variables`, the renderer's own verdict for a text parsed once."""
    missing: dict[str, None] = {}
    for name in names:
        if not _value(name, ctx):
            missing.setdefault(name or "{{}}", None)
    return list(missing)


def _choose(seed: str, index: int, count: int) -> int:
    # hashlib, not hash(): hash() of a str changes with every process (PYTHONHASHSEED).
    digest = hashlib.sha256(f"{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def _escape_value(value: str) -> str:
    # Values are plain text: escape, and keep their line breaks visible (signatures).
    return html_lib.escape(value).replace("\r\n", "\n").replace("\n", "<br>\n")


def render(text: str, ctx: RenderContext, *, html: bool = False) -> str:
    """The text this contact receives.

    Raises :class:`UndefinedVariable` when any variable (in any spintax option) has no value
    and no fallback. With ``html=True`` substituted values are HTML-escaped; the template's
    own markup, fallbacks included, is the author's HTML and is kept as written.
    """
    nodes = _parse(text)
    missing = undefined_variables(text, ctx)
    if missing:
        raise UndefinedVariable(missing)
    out: list[str] = []
    _render_nodes(nodes, ctx, html, out)
    return "".join(out)


def _render_nodes(nodes: tuple[_Node, ...], ctx: RenderContext, html: bool, out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, _Text):
            out.append(node.text)
        elif isinstance(node, _Var):
            value = _value(node.variable.name, ctx)
            if value:
                out.append(_escape_value(value) if html else value)
            else:
                out.append(node.variable.fallback or "")
        else:
            choice = _choose(ctx.seed, node.index, len(node.options))
            _render_nodes(node.options[choice], ctx, html, out)
