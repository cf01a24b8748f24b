"""What blocks a launch: variables that running contacts have no value for (SQL finds
the candidates, the renderer has the last word)."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import reduce

from django.db import transaction
from django.db.models import Count, F, Func, IntegerField, Q, TextField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact, In
from django.utils.translation import ngettext

from campaigns import templating
from campaigns.engine.compose import render_context, sender_values
from campaigns.models import RUNNING_ENROLLMENT, Campaign, Variant
from email_accounts.models import Mailbox


@dataclass
class UndefinedReport:
    step: int  # 1-based, as users count
    variant: str
    names: list[str]
    contacts: int
    at_least: bool = False  # more contacts lacked a value than were checked: a lower bound


# What str.strip() removes (the renderer trims values with it), for PostgreSQL's btrim(): a
# value of only these characters is empty to the renderer, so SQL must call it blank too.
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


_WHITESPACE_CODES = sorted(ord(c) for c in PYTHON_WHITESPACE)


_CHUNK = 2_000


# What render_context reads of a contact (the rest of the row is not fetched).
_CONTACT_VALUES = (
    *(f"contact__{field}" for field in templating.CONTACT_FIELDS.values()),
    "contact__custom_fields",
)


class _Trim(Func):
    """btrim(value, characters); SQLite (the embedded default) spells it trim()."""

    function = "btrim"
    output_field = TextField()

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="trim", **extra)


class _FirstCodePoint(Func):
    function = "ascii"  # PostgreSQL: the first character's code point in UTF-8
    output_field = IntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="unicode", **extra)


def _blank(expression) -> Q:
    """SQL: the value is missing, or nothing but whitespace. Only a value starting with a
    space is trimmed: most are not, and trimming with this set is the scan's main cost."""
    empty = Exact(Coalesce(expression, Value(""), output_field=TextField()), "")
    trimmed = _Trim(expression, Value(PYTHON_WHITESPACE))
    return Q(empty) | (
        Q(In(_FirstCodePoint(expression), _WHITESPACE_CODES)) & Q(Exact(trimmed, ""))
    )


def _lacks(name: str) -> Q:
    """SQL: the enrollment's contact may have no value for the contact variable `name` (the
    names render_context gives the renderer: camelCase contact fields, else a custom-field
    key). A superset is harmless: the renderer decides (a key like "2024" reads as an array
    index here, so such contacts are all candidates)."""
    if name in templating.CONTACT_FIELDS:
        return _blank(F(f"contact__{templating.CONTACT_FIELDS[name]}"))
    return _blank(KeyTextTransform(name, "contact__custom_fields"))


def _sender_gaps(variant: Variant, mailbox: Mailbox) -> set[str]:
    """The sender variables of this variant that this mailbox has no value for, as the
    renderer says (the contact half of the context is left empty and ignored)."""
    ctx = templating.RenderContext(contact={}, custom={}, sender=sender_values(mailbox), seed="")
    names = templating.undefined_variables(variant.subject, ctx)
    names += templating.undefined_variables(variant.body, ctx)
    return {name for name in names if templating.is_sender_variable(name)}


def undefined_variables_report(
    campaign: Campaign, *, limit: int | None = None
) -> list[UndefinedReport]:
    """Which steps use a variable that some running contacts have no value for (and no
    fallback): a launch is blocked until each is given a fallback or the data is filled.

    Every running contact counts, at the cost of the ones lacking a value: SQL picks the
    enrollments whose contact is blank in a variable some variant needs, and only those are
    checked by the renderer (it has the last word). With `limit`, the check stops once that many
    contacts lacking a value are found, and a variant's count is then a lower bound
    (`at_least`). Sender variables are
    checked once per mailbox, and counted exactly: an enrollment depends on the mailbox that
    wrote to it or, before its first email, on any of the campaign's (rotation may pick any)."""
    running = campaign.enrollments.filter(status__in=RUNNING_ENROLLMENT)
    variants = [
        (step, variant)
        for step in campaign.steps.prefetch_related("variants")
        for variant in step.variants.all()
    ]
    # Running enrollments per sending mailbox (None: not written to yet), in one query.
    per_mailbox = dict(
        running.order_by()
        .values_list("mailbox_id")
        .annotate(n=Count("pk"))
        .values_list("mailbox_id", "n")
    )
    if not variants or not per_mailbox:
        return []
    senders = list(campaign.mailboxes.all())
    assigned = {pk for pk in per_mailbox if pk is not None} - {m.pk for m in senders}
    mailboxes = senders + list(
        Mailbox.objects.for_workspace(campaign.workspace).filter(pk__in=assigned)
    )

    missing: list[set[str]] = [set() for _ in variants]
    affected = [0] * len(variants)
    # Mailbox id (None: not written to yet) → the variants its contacts lack a sender value in.
    sender_hit: dict = {}
    for index, (_step, variant) in enumerate(variants):
        for mailbox in mailboxes:
            gaps = _sender_gaps(variant, mailbox)
            slots = [mailbox.pk, *([None] if mailbox in senders else [])]
            for slot in (slot for slot in slots if gaps and slot in per_mailbox):
                missing[index] |= gaps
                if index not in sender_hit.setdefault(slot, set()):
                    sender_hit[slot].add(index)
                    affected[index] += per_mailbox[slot]

    # Each variant's contact variables without a fallback, parsed once; then, per contact,
    # the renderer's own verdict (templating.undefined_variables is these two functions).
    needs = [
        sorted(
            name
            for text in (variant.subject, variant.body)
            for name in templating.required_variables(text)
            if not templating.is_sender_variable(name)
        )
        for _step, variant in variants
    ]
    contact_names = sorted({name for names in needs for name in names})
    truncated, found = False, 0
    if contact_names:
        candidates = (
            running.filter(reduce(operator.or_, (_lacks(name) for name in contact_names)))
            .select_related("contact")
            .only("pk", "mailbox", "contact", *_CONTACT_VALUES)
            .order_by()
        )
        # Contact values depend neither on the step nor on the mailbox: one context each.
        any_mailbox, first_step = (mailboxes[0] if mailboxes else Mailbox()), variants[0][0]
        checks = list(enumerate(needs))
        # In a transaction the server-side cursor is read as it goes (in autocommit, Django
        # declares it WITH HOLD and PostgreSQL computes every row first, even past `limit`).
        with transaction.atomic():
            for enrollment in candidates.iterator(chunk_size=_CHUNK):
                if found == limit:
                    truncated = True
                    break
                ctx = render_context(enrollment, first_step, any_mailbox)
                counted = sender_hit.get(enrollment.mailbox_id, ())
                lacks_any = False
                for index, names in checks:
                    lacking = templating.missing_values(names, ctx)
                    if lacking:
                        lacks_any = True
                        missing[index].update(lacking)
                        if index not in counted:
                            affected[index] += 1
                found += lacks_any
    return [
        UndefinedReport(
            step.position + 1,
            variant.label,
            sorted(missing[index]),
            affected[index],
            at_least=truncated and bool(needs[index]),
        )
        for index, (step, variant) in enumerate(variants)
        if affected[index]
    ]


def undefined_problem_sentences(campaign: Campaign, *, limit: int | None = None) -> list[str]:
    sentences = []
    for report in undefined_variables_report(campaign, limit=limit):
        if report.at_least:
            sentence = ngettext(
                "Email %(step)d (%(variant)s) uses %(names)s, with no value for at least "
                "%(count)d contact: give a fallback like {{firstName|there}}, or fill it in.",
                "Email %(step)d (%(variant)s) uses %(names)s, with no value for at least "
                "%(count)d contacts: give a fallback like {{firstName|there}}, or fill it in.",
                report.contacts,
            )
        else:
            sentence = ngettext(
                "Email %(step)d (%(variant)s) uses %(names)s, with no value for %(count)d "
                "contact: give a fallback like {{firstName|there}}, or fill it in.",
                "Email %(step)d (%(variant)s) uses %(names)s, with no value for %(count)d "
                "contacts: give a fallback like {{firstName|there}}, or fill it in.",
                report.contacts,
            )
        names = ", ".join(f"{{{{{name}}}}}" for name in report.names)
        sentences.append(
            sentence
            % {
                "step": report.step,
                "variant": report.variant,
                "names": names,
                "count": report.contacts,
            }
        )
    return sentences
