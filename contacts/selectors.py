"""Reads: who may be emailed, contact searches and pages, lists, imports."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BooleanField, Count, Q, QuerySet, TextField, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat, Lower
from django.utils.translation import gettext_lazy as _

from contacts.models import (
    Contact,
    ContactList,
    ContactStatus,
    Import,
    Suppression,
    SuppressionKind,
    Tag,
)
from webhooks.models import EVENT_CONTACT_ID, Event

if TYPE_CHECKING:
    from accounts.models import Workspace


# May we email this address? -----------------------------------------------------------------


@dataclass(frozen=True)
class Sendability:
    allowed: bool
    reason: str = ""  # a SuppressionReason or a ContactStatus value when not allowed
    suppression: Suppression | None = None


def _domains_covering(domain: str) -> list[str]:
    """'mail.acme.co.uk' → ['mail.acme.co.uk', 'acme.co.uk', 'co.uk']: a suppressed domain
    covers its subdomains."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def suppressed_emails(*, workspace: Workspace, emails: Iterable[str]) -> set[str]:
    """Which of these addresses (lowercased) the suppression list covers, by the address, its
    domain or a parent domain: email_sendability's first question, for a whole batch in one
    query (enrolling a list of thousands)."""
    pairs = suppressed_pairs((workspace.pk, email) for email in emails)
    return {address for _workspace_id, address in pairs}


def suppressed_pairs(pairs: Iterable[tuple[uuid.UUID, str]]) -> set[tuple[uuid.UUID, str]]:
    """The same question for (workspace id, address) pairs of several workspaces at once (the
    scheduler's tick); answers are (workspace id, lowercased address)."""
    wanted = {(workspace_id, email.strip().lower()) for workspace_id, email in pairs}
    if not wanted:
        return set()
    covering = {address: _domains_covering(address.rpartition("@")[2]) for _w, address in wanted}
    values = set(covering) | {domain for domains in covering.values() for domain in domains}
    entries = set(
        Suppression.objects.unscoped()
        .filter(workspace_id__in={w for w, _address in wanted}, value__in=values)
        .values_list("workspace_id", "kind", "value")
    )
    return {
        (workspace_id, address)
        for workspace_id, address in wanted
        if (workspace_id, SuppressionKind.EMAIL.value, address) in entries
        or any(
            (workspace_id, SuppressionKind.DOMAIN.value, domain) in entries
            for domain in covering[address]
        )
    }


def email_sendability(*, workspace: Workspace, email: str) -> Sendability:
    """The one answer to "may we email this address?". Every sender asks it, right before
    sending: the suppression list (the address, or its domain or a parent domain), then the
    contact's own status (bounced, unsubscribed, archived)."""
    address = email.strip().lower()
    domain = address.rpartition("@")[2]
    suppression = (
        Suppression.objects.for_workspace(workspace)
        .filter(
            Q(kind=SuppressionKind.EMAIL, value=address)
            | Q(kind=SuppressionKind.DOMAIN, value__in=_domains_covering(domain))
        )
        .order_by("kind")  # the address's own entry first: its reason is the more precise
        .first()
    )
    if suppression is not None:
        return Sendability(False, suppression.reason, suppression)
    status = (
        Contact.objects.for_workspace(workspace)
        .alias(email_key=Lower("email"))
        .filter(email_key=address)  # served by the unique index on lower(email)
        .values_list("status", flat=True)
        .first()
    )
    if status is not None and status != ContactStatus.ACTIVE:
        return Sendability(False, status)
    return Sendability(True)


# Contacts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactFilters:
    search: str = ""
    status: str = ""
    list_id: str = ""
    tag: str = ""
    created_since: datetime | None = None


def contacts_filtered(
    *, workspace: Workspace, filters: ContactFilters, contacts: QuerySet[Contact] | None = None
) -> QuerySet[Contact]:
    """`contacts` (the workspace's, by default) narrowed by the filters."""
    if contacts is None:
        contacts = Contact.objects.for_workspace(workspace)
    if filters.search:
        contacts = _search(contacts, filters.search)
    if filters.status:
        contacts = contacts.filter(status=filters.status)
    if filters.list_id:
        contacts = contacts.filter(lists__id=filters.list_id)
    if filters.tag:
        # The tag first, then its contacts: the planner then starts from the tag's rows.
        tag = Tag.objects.for_workspace(workspace).filter(name__iexact=filters.tag).first()
        contacts = contacts.filter(tags=tag) if tag else contacts.none()
    if filters.created_since:
        contacts = contacts.filter(created_at__gte=filters.created_since)
    return contacts


def _search(contacts: QuerySet[Contact], text: str) -> QuerySet[Contact]:
    """Every word typed is the start of a word of the email, name or company."""
    words = re.findall(r"\w+", text.lower())[:8]
    if not words:
        return contacts
    if connection.vendor == "postgresql":  # the full-text index of migration 0002
        query = " & ".join(f"{word}:*" for word in words)
        return contacts.filter(
            RawSQL(
                "contacts_contact.search_vector @@ to_tsquery('simple', contacts_search_fold(%s))",
                (query,),
                output_field=BooleanField(),
            )
        )
    haystack = Lower(
        Concat(
            "email",
            Value(" "),
            "first_name",
            Value(" "),
            "last_name",
            Value(" "),
            "company",
            output_field=TextField(),
        )
    )
    contacts = contacts.alias(search_haystack=haystack)
    for word in words:
        contacts = contacts.filter(search_haystack__contains=word)
    return contacts


# Keyset pagination: each sort is an index (see Contact.Meta.indexes), so page 10,000 costs
# what page 1 costs.
CONTACT_SORTS: dict[str, tuple[str, ...]] = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "email": ("email_key",),  # lower(email): unique in a workspace, and indexed
    "company": ("company", "id"),
}
SORT_LABELS = {
    "-created": _("Newest first"),
    "created": _("Oldest first"),
    "email": _("Email"),
    "company": _("Company"),
}


@dataclass
class ContactPage:
    contacts: list[Contact]
    next_cursor: str | None
    previous_cursor: str | None


def _field_value(contact: Contact, field: str) -> str:
    value = getattr(contact, field)
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _encode_cursor(contact: Contact, sort: str, fields: tuple[str, ...], backwards: bool) -> str:
    payload = {
        "s": sort,
        "v": [_field_value(contact, f.lstrip("-")) for f in fields],
        "b": backwards,
    }
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def _decode_cursor(cursor: str, sort: str) -> tuple[list[str], bool] | None:
    """The cursor's values, if it was made for this sort; anything else means page one."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if payload["s"] != sort:
            return None
        return [str(v) for v in payload["v"]], bool(payload["b"])
    except (ValueError, KeyError, TypeError):
        return None


def _after(fields: tuple[str, ...], values: list[str]) -> Q | RawSQL:
    """Rows strictly after `values` in the `fields` order, as one row-value comparison
    `(created_at, id) < (…, …)`: the index scan starts there, instead of filtering every row
    before it (the OR-of-ANDs form costs what OFFSET costs). Raises ValidationError when a
    value does not fit its column (an edited cursor)."""
    descending = fields[0].startswith("-")
    assert all(f.startswith("-") == descending for f in fields), "one direction per sort"
    names = [f.lstrip("-") for f in fields]
    if names == ["email_key"]:
        return Q(**{f"email_key__{'lt' if descending else 'gt'}": values[0]})
    params = []
    for name, value in zip(names, values, strict=True):
        column = Contact._meta.get_field(name)
        params.append(column.get_db_prep_value(column.to_python(value), connection))
    columns = ", ".join(f'"contacts_contact"."{name}"' for name in names)
    placeholders = ", ".join(["%s"] * len(names))
    return RawSQL(  # noqa: S611 - the names are ours, the values are parameters
        f"({columns}) {'<' if descending else '>'} ({placeholders})",
        params,
        output_field=BooleanField(),
    )


def _reverse(fields: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f[1:] if f.startswith("-") else f"-{f}" for f in fields)


def contacts_page(
    *, contacts: QuerySet[Contact], sort: str, cursor: str = "", size: int = 50
) -> ContactPage:
    if sort not in CONTACT_SORTS:
        sort = "-created"
    fields = CONTACT_SORTS[sort]
    if "email_key" in fields:
        contacts = contacts.annotate(email_key=Lower("email"))
    decoded = _decode_cursor(cursor, sort) if cursor else None
    if decoded and len(decoded[0]) != len(fields):
        decoded = None
    backwards = False
    if decoded:
        backwards = decoded[1]
        order = _reverse(fields) if backwards else fields
        try:
            rows = list(
                contacts.order_by(*order)
                .filter(_after(order, decoded[0]))
                .prefetch_related("tags")[: size + 1]
            )
        except ValidationError:  # an edited cursor (a bad date or id): page one instead
            decoded, backwards = None, False
    if not decoded:
        rows = list(contacts.order_by(*fields).prefetch_related("tags")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    has_next = more if not backwards else bool(decoded)
    has_previous = bool(decoded) if not backwards else more
    return ContactPage(
        contacts=rows,
        next_cursor=_encode_cursor(rows[-1], sort, fields, False) if rows and has_next else None,
        previous_cursor=(
            _encode_cursor(rows[0], sort, fields, True) if rows and has_previous else None
        ),
    )


def count_capped(queryset: QuerySet, cap: int = 10_000) -> tuple[int, bool]:
    """How many, counting no further than `cap` (a million-row COUNT on every page is slow)."""
    counted = queryset.order_by()[: cap + 1].count()
    return min(counted, cap), counted > cap


# How the timeline words each event; later issues add theirs (sent, opened, replied, …).
TIMELINE_LABELS = {
    "contact.created": _("Contact added"),
    "contact.unsubscribed": _("Unsubscribed"),
}


@dataclass(frozen=True)
class TimelineEntry:
    label: str
    event: Event


def contact_timeline(
    *, workspace: Workspace, contact: Contact, limit: int = 50
) -> list[TimelineEntry]:
    """Events about this contact, newest first."""
    events = (
        Event.objects.for_workspace(workspace)
        .alias(contact_id=EVENT_CONTACT_ID)
        .filter(contact_id=str(contact.pk))  # the event_ws_contact index
    )
    return [
        TimelineEntry(str(TIMELINE_LABELS.get(event.type, event.type)), event)
        for event in events[:limit]
    ]


def custom_field_keys(*, workspace: Workspace) -> list[str]:
    """Every custom field key the workspace's contacts use (export columns, variables)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT jsonb_object_keys(custom_fields) FROM contacts_contact "
                "WHERE workspace_id = %s AND custom_fields <> '{}'::jsonb",
                [workspace.pk],
            )
            return sorted(key for (key,) in cursor.fetchall())
    keys: set[str] = set()  # the embedded SQLite of `make run`
    for custom in Contact.objects.for_workspace(workspace).values_list("custom_fields", flat=True):
        keys.update(custom)
    return sorted(keys)


# Lists, tags, suppressions, imports ------------------------------------------------------


def lists_with_counts(*, workspace: Workspace) -> QuerySet[ContactList]:
    return ContactList.objects.for_workspace(workspace).annotate(size=Count("contacts"))


def suppressions_of(*, workspace: Workspace, search: str = "") -> QuerySet[Suppression]:
    suppressions = Suppression.objects.for_workspace(workspace).select_related("created_by")
    if search:
        suppressions = suppressions.filter(value__contains=search.strip().lower())
    return suppressions


def imports_of(*, workspace: Workspace) -> QuerySet[Import]:
    return Import.objects.for_workspace(workspace).select_related("target_list")
