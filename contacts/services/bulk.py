"""Bulk creation of contacts from the API: each item succeeds or fails on its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from accounts.errors import ServiceError
from accounts.models import Workspace
from accounts.services import require_in_workspace
from contacts.models import Contact, ContactList, ContactSource, ContactStatus
from contacts.services.contacts import (
    clean_contact_fields,
    clean_status,
    contact_payload,
    contact_unsubscribe,
    contact_update,
    tags_resolve,
)
from webhooks.events import emit_many

BULK_CREATE_MAX = 1000


@dataclass
class BulkResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)


# One valid item of a bulk request: its position, cleaned fields, tag names and status.
_BulkEntry = tuple[int, dict[str, Any], list[str], str | None]


def contacts_bulk_create(
    *,
    workspace: Workspace,
    items: list[dict[str, Any]],
    update_existing: bool,
    contact_list: ContactList | None = None,
) -> BulkResult:
    """Up to 1,000 contacts from the API; each item succeeds or fails on its own.

    New contacts are written in one INSERT, with their tags, list memberships and
    `contact.created` events in one INSERT each; existing ones are updated (or skipped) one
    by one."""
    if len(items) > BULK_CREATE_MAX:
        raise ServiceError(
            _("Send at most %(max)d contacts per request; split the rest into more requests.")
            % {"max": BULK_CREATE_MAX},
            field="contacts",
        )
    outcomes: dict[int, dict[str, Any]] = {}
    entries: dict[str, _BulkEntry] = {}  # by lowercase email, the first item that has it
    raw_items: dict[int, dict[str, Any]] = {}
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ServiceError(_('Each contact is an object, such as {"email": …}.'))
            item = dict(item)
            tags = item.pop("tags", None)
            if tags is not None and (
                not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)
            ):
                raise ServiceError(_("Send tags as a list of names."), field="tags")
            if "lists" in item:
                raise ServiceError(
                    _("Add bulk-created contacts to a list with the request's “list”."),
                    field="lists",
                )
            cleaned = clean_contact_fields(item)
            if "email" not in cleaned:
                raise ServiceError(_("Enter the contact's email address."), field="email")
            status = clean_status(item.get("status"))
            key = cleaned["email"].lower()
            if key in entries:
                raise ServiceError(
                    _("Same email as item %(index)d of this request.") % {"index": entries[key][0]},
                    field="email",
                )
        except ServiceError as error:
            outcomes[index] = _bulk_error(index, error)
            continue
        entries[key] = (index, cleaned, tags or [], status)
        raw_items[index] = {**item, "tags": tags}
    try:
        with transaction.atomic():
            outcomes.update(
                _bulk_write(workspace, entries, raw_items, update_existing, contact_list)
            )
    except IntegrityError:  # one of these addresses was added by another request meanwhile
        raise ServiceError(
            _(
                "Some of these contacts were added by another request at the same moment. "
                "Send this request again: they will be updated or skipped."
            ),
            field="contacts",
        ) from None
    result = BulkResult(items=[outcomes[i] for i in range(len(items))])
    for outcome in result.items:
        counter = "failed" if outcome["status"] == "error" else outcome["status"]
        setattr(result, counter, getattr(result, counter) + 1)
    return result


def _bulk_write(
    workspace: Workspace,
    entries: dict[str, _BulkEntry],
    raw_items: dict[int, dict[str, Any]],
    update_existing: bool,
    contact_list: ContactList | None,
) -> dict[int, dict[str, Any]]:
    existing = {
        contact.email_key: contact
        for contact in Contact.objects.for_workspace(workspace)
        .annotate(email_key=Lower("email"))
        .filter(email_key__in=list(entries))
    }
    created = _bulk_insert(
        workspace, [entry for key, entry in entries.items() if key not in existing], contact_list
    )
    outcomes = {
        index: {"index": index, "status": "created", "id": str(contact.pk)}
        for index, contact in created.items()
    }
    for key, contact in existing.items():
        index = entries[key][0]
        if not update_existing:
            if contact_list is not None:  # as an import does: the list gets them all
                contact_list.contacts.add(contact)
            outcomes[index] = {"index": index, "status": "skipped", "id": str(contact.pk)}
            continue
        item = dict(raw_items[index])
        tags = item.pop("tags")
        item.pop("email")  # matched on it; "JEAN@…" does not rewrite "jean@…"
        try:
            with transaction.atomic():
                contact_update(workspace=workspace, contact=contact, data=item, tags=tags)
                if contact_list is not None:
                    contact_list.contacts.add(contact)
        except ServiceError as error:
            outcomes[index] = _bulk_error(index, error)
        else:
            outcomes[index] = {"index": index, "status": "updated", "id": str(contact.pk)}
    return outcomes


def _bulk_error(index: int, error: ServiceError) -> dict[str, Any]:
    field = error.field or "non_field_errors"
    return {"index": index, "status": "error", "errors": {field: [error.message]}}


def _bulk_insert(
    workspace: Workspace, entries: list[_BulkEntry], contact_list: ContactList | None
) -> dict[int, Contact]:
    """New contacts, their tags, list memberships and events: one INSERT each."""
    contacts = {
        index: Contact(
            workspace=workspace,
            source=ContactSource.API,
            **cleaned,
            **({"status": status} if status and status != ContactStatus.UNSUBSCRIBED else {}),
        )
        for index, cleaned, _tags, status in entries
    }
    Contact.objects.for_workspace(workspace).bulk_create(contacts.values())
    names = {name.strip() for _i, _c, tags, _s in entries for name in tags if name.strip()}
    tag_by_name = {
        tag.name.lower(): tag for tag in tags_resolve(workspace=workspace, names=sorted(names))
    }
    Contact.tags.through.objects.bulk_create(
        [
            Contact.tags.through(contact_id=contacts[index].pk, tag_id=tag_by_name[name.lower()].pk)
            for index, _cleaned, tags, _status in entries
            for name in {name.strip() for name in tags if name.strip()}
        ],
        ignore_conflicts=True,
    )
    if contact_list is not None:
        require_in_workspace(contact_list, workspace)
        ContactList.contacts.through.objects.bulk_create(
            [
                ContactList.contacts.through(contactlist_id=contact_list.pk, contact_id=c.pk)
                for c in contacts.values()
            ]
        )
    emit_many(
        workspace=workspace,
        type="contact.created",
        data=[{"contact": contact_payload(contact)} for contact in contacts.values()],
    )
    for index, _cleaned, _tags, status in entries:
        if status == ContactStatus.UNSUBSCRIBED:
            contact_unsubscribe(
                workspace=workspace, contact=contacts[index], source=_("Created unsubscribed")
            )
    return contacts
