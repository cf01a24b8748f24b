"""Simple, explainable lead-status suggestions and unsubscribe requests (English and French).

Rules are keyword lists matched on the reply's own text (never the quoted history, which holds
our message and its unsubscribe footer), lowercased and without accents. The first rule that
matches wins, in this order: unsubscribe → wrong person → not interested → meeting booked →
interested. Negative phrases come before "interested" because "not interested" contains it.
"""

from __future__ import annotations

import re

from .dates import normalise
from .verdict import Verdict

_UNSUBSCRIBE = re.compile(
    r"\bunsubscribe\b|\bremove me\b|\btake me off\b|\bopt[- ]?out\b|\bstop (?:emailing|"
    r"contacting|sending)\b|\bdo not (?:contact|email) me\b|\bdon'?t (?:contact|email) me\b|"
    r"desabonn|desinscri|\bne plus recevoir\b|\bretirez[- ]moi\b|\bsupprimez[- ]moi\b|"
    r"\bne (?:plus )?me (?:contactez|recontactez|relancez|ecrivez) plus\b|"
    r"\barretez de m'?(?:ecrire|envoyer|contacter)\b"
)
_STOP_ALONE = re.compile(r"^\W*stop\W*$", re.MULTILINE)

_LEAD_RULES: list[tuple[str, str, re.Pattern[str]]] = [
    ("wrong_person", "lead:wrong-person", re.compile(
        r"not the right (?:person|contact)|wrong person|no longer (?:works?|with)|"
        r"(?:has )?left the company|not (?:my|in charge of)|reach out to|you should contact|"
        r"pas la bonne personne|ne travaille plus|n'est plus (?:chez|dans|en poste)|"
        r"a quitte (?:la societe|l'entreprise)|je ne (?:suis pas|m'occupe pas)|"
        r"je transmets|je vous mets en (?:copie|relation)|mon collegue|ma collegue")),
    ("not_interested", "lead:not-interested", re.compile(
        r"not interested|no thanks|no,? thank you|not (?:right )?now|not at this time|"
        r"we(?:'re| are) (?:all set|good)|no need|not a fit|"
        r"pas interesse|ne sommes pas interesse|non merci|pas besoin|pas pour (?:le moment|"
        r"l'instant)|ca ne nous interesse pas|pas (?:de|d')?\s?actualite")),
    ("meeting_booked", "lead:meeting-booked", re.compile(
        r"\b(?:i(?:'ve| have)? )?booked\b|calendar invite|invitation (?:sent|accepted)|"
        r"see you (?:on|tomorrow|next)|meeting (?:is )?confirmed|"
        r"rendez-vous (?:est )?(?:confirme|pris|fixe)|j'ai (?:reserve|pris rendez-vous)|"
        r"invitation acceptee|a (?:mardi|lundi|mercredi|jeudi|vendredi|demain)\b")),
    ("interested", "lead:interested", re.compile(
        r"\binterested\b|sounds (?:good|great|interesting)|tell me more|let'?s (?:talk|chat|"
        r"meet|set up)|happy to (?:chat|talk)|send (?:me )?(?:more|details|a proposal)|"
        r"\bdemo\b|\bcall\b|when are you (?:free|available)|"
        r"interesse|interessant|volontiers|pourquoi pas|en savoir plus|"
        r"\bappel\b|echanger|disponible|dispo\b|avec plaisir")),
]  # fmt: skip


def is_unsubscribe_request(text: str) -> bool:
    plain = normalise(text)
    if _UNSUBSCRIBE.search(plain):
        return True
    return bool(_STOP_ALONE.search(text.lower())) or plain.strip(" .!") == "stop"


def suggest_lead_status(verdict: Verdict) -> tuple[str, str]:
    """(suggested lead status or "", the rule id that fired)."""
    if verdict.kind == "auto_reply":
        return ("out_of_office", "lead:out-of-office") if verdict.out_of_office else ("", "")
    if verdict.kind != "reply":
        return "", ""
    if verdict.unsubscribe_request:
        return "not_interested", "lead:unsubscribe"
    text = normalise(verdict.reply_text)
    for status, rule, pattern in _LEAD_RULES:
        if pattern.search(text):
            return status, rule
    return "", ""
