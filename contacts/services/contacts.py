"""Every write to contacts and their tags."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.db.models.functions import Lower, Now
from django.utils.translation import gettext as _

from accounts.errors import ServiceError
from accounts.models import Workspace
from accounts.services import require_in_workspace
from contacts.emails import clean_email
from contacts.importing.columns import IMPORT_FIELDS
from contacts.models import (
    CUSTOM_VALUE_MAX_LENGTH,
    FIELD_MAX_LENGTHS,
    Contact,
    ContactList,
    ContactSource,
    ContactStatus,
    SuppressionReason,
    Tag,
)
from contacts.services.memberships import memberships_add
from contacts.services.suppressions import suppression_add
from webhooks.events import emit

CONTACT_FIELDS = tuple(IMPORT_FIELDS)  # email, first_name, …, timezone


# Contacts ------------------------------------------------------------------------------------


def contact_payload(contact: Contact) -> dict[str, Any]:
    """How a contact appears in events (webhooks deliver this)."""
    return {
        "id": str(contact.pk),
        "url": f"/api/v1/contacts/{contact.pk}/",
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "company": contact.company,
        "status": contact.status,
    }


def clean_contact_fields(data: dict[str, Any], *, current_email: str = "") -> dict[str, Any]:
    """Contact fields from a form or API body: stripped, checked, email normalised (its DNS
    checked, when that is on, only if it changed)."""
    cleaned: dict[str, Any] = {}
    for name in CONTACT_FIELDS:
        if name not in data:
            continue
        value = data[name] if data[name] is not None else ""
        if not isinstance(value, str):
            raise ServiceError(_("Send this as text."), field=name)
        value = value.strip()
        if len(value) > FIELD_MAX_LENGTHS[name]:
            raise ServiceError(
                _("Keep this under %(max)d characters.") % {"max": FIELD_MAX_LENGTHS[name]},
                field=name,
            )
        cleaned[name] = value
    if "email" in cleaned:
        unchanged = bool(current_email) and cleaned["email"].lower() == current_email.lower()
        cleaned["email"] = clean_email(cleaned["email"], syntax_only=unchanged)
    zone = cleaned.get("timezone")
    if zone and zone not in zoneinfo.available_timezones():
        raise ServiceError(
            _("“%(zone)s” is not a time zone. Use an IANA name such as Europe/Paris.")
            % {"zone": zone},
            field="timezone",
        )
    if "custom_fields" in data:
        cleaned["custom_fields"] = _clean_custom_fields(data["custom_fields"])
    return cleaned


def _clean_custom_fields(custom: Any) -> dict[str, str]:
    if not isinstance(custom, dict):
        raise ServiceError(
            _("Custom fields are an object of names to text values."), field="custom_fields"
        )
    cleaned = {}
    for key, value in custom.items():
        key = str(key).strip()
        if not key or len(key) > 64 or not key.replace("_", "").isalnum() or not key.isascii():
            raise ServiceError(
                _(
                    "“%(key)s” cannot be a custom field name: use up to 64 letters, digits "
                    "and underscores, as in companySize."
                )
                % {"key": key},
                field="custom_fields",
            )
        if value is None:
            continue
        if not isinstance(value, str | int | float | bool):
            raise ServiceError(
                _("The custom field “%(key)s” must be text.") % {"key": key},
                field="custom_fields",
            )
        value = str(value).strip()
        if len(value) > CUSTOM_VALUE_MAX_LENGTH:
            raise ServiceError(
                _("The custom field “%(key)s” is longer than %(max)d characters.")
                % {"key": key, "max": CUSTOM_VALUE_MAX_LENGTH},
                field="custom_fields",
            )
        cleaned[key] = value
    return cleaned


def _email_taken(workspace: Workspace, email: str, exclude: Contact | None = None) -> bool:
    others = (
        Contact.objects.for_workspace(workspace)
        .alias(email_key=Lower("email"))
        .filter(email_key=email.lower())  # the unique index is on lower(email)
    )
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    return others.exists()


def _duplicate_error(email: str) -> ServiceError:
    return ServiceError(
        _("A contact with the email %(email)s already exists in this workspace.")
        % {"email": email},
        field="email",
    )


def tags_resolve(*, workspace: Workspace, names: Iterable[str]) -> list[Tag]:
    """Tags by name (case-insensitive), created when new."""
    tags = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if len(name) > 50:
            raise ServiceError(_("Keep tag names under 50 characters."), field="tags")
        tag = Tag.objects.for_workspace(workspace).filter(name__iexact=name).first()
        if tag is None:
            try:
                with transaction.atomic():
                    tag = Tag.objects.create(workspace=workspace, name=name)
            except IntegrityError:  # created by someone else meanwhile
                tag = Tag.objects.for_workspace(workspace).get(name__iexact=name)
        tags.append(tag)
    return tags


def _lists_in_workspace(workspace: Workspace, lists: Iterable[ContactList]) -> list[ContactList]:
    lists = list(lists)
    for contact_list in lists:
        require_in_workspace(contact_list, workspace)
    return lists


@transaction.atomic
def contact_create(
    *,
    workspace: Workspace,
    data: dict[str, Any],
    source: str = ContactSource.MANUAL,
    tags: Iterable[str] = (),
    lists: Iterable[ContactList] = (),
) -> Contact:
    cleaned = clean_contact_fields(data)
    if "email" not in cleaned:
        raise ServiceError(_("Enter the contact's email address."), field="email")
    status = clean_status(data.get("status"))
    if status not in (None, ContactStatus.UNSUBSCRIBED):
        cleaned["status"] = status
    if _email_taken(workspace, cleaned["email"]):
        raise _duplicate_error(cleaned["email"])
    try:
        with transaction.atomic():
            contact = Contact.objects.create(workspace=workspace, source=source, **cleaned)
    except IntegrityError:  # the same address, added at the same moment
        raise _duplicate_error(cleaned["email"]) from None
    contact.tags.set(tags_resolve(workspace=workspace, names=tags))
    for contact_list in _lists_in_workspace(workspace, lists):
        contact_list.contacts.add(contact)
    emit(workspace=workspace, type="contact.created", data={"contact": contact_payload(contact)})
    if status == ContactStatus.UNSUBSCRIBED:  # also on the suppression list, with its event
        contact_unsubscribe(workspace=workspace, contact=contact, source=_("Created unsubscribed"))
    return contact


def clean_status(status: str | None) -> str | None:
    if status is not None and status not in ContactStatus.values:
        raise ServiceError(_("Choose a valid status."), field="status")
    return status


@transaction.atomic
def contact_update(
    *,
    workspace: Workspace,
    contact: Contact,
    data: dict[str, Any],
    tags: Iterable[str] | None = None,
    lists: Iterable[ContactList] | None = None,
) -> Contact:
    require_in_workspace(contact, workspace)
    cleaned = clean_contact_fields(data, current_email=contact.email)
    if "email" in cleaned and _email_taken(workspace, cleaned["email"], exclude=contact):
        raise _duplicate_error(cleaned["email"])
    status = clean_status(data.get("status"))
    if status is not None and status != contact.status:
        if status == ContactStatus.UNSUBSCRIBED:
            contact_unsubscribe(workspace=workspace, contact=contact, source=_("Edited by hand"))
        else:
            cleaned["status"] = status
    for name, value in cleaned.items():
        setattr(contact, name, value)
    contact.save()
    if tags is not None:
        contact.tags.set(tags_resolve(workspace=workspace, names=tags))
    if lists is not None:
        contact.lists.set(_lists_in_workspace(workspace, lists))
    return contact


@transaction.atomic
def contact_unsubscribe(*, workspace: Workspace, contact: Contact, source: str) -> None:
    """The contact asked to hear no more: status, suppression list, `contact.unsubscribed`."""
    require_in_workspace(contact, workspace)
    if contact.status != ContactStatus.UNSUBSCRIBED:
        contact.status = ContactStatus.UNSUBSCRIBED
        contact.save(update_fields=["status", "updated_at"])
        emit(
            workspace=workspace,
            type="contact.unsubscribed",
            data={"contact": contact_payload(contact), "source": source},
        )
    suppression_add(
        workspace=workspace,
        value=contact.email,
        reason=SuppressionReason.UNSUBSCRIBED,
        source=source,
        actor=None,
    )


def contacts_archive(*, workspace: Workspace, contacts: QuerySet[Contact]) -> int:
    """Archives active contacts; bounced and unsubscribed ones keep the reason they stopped."""
    return contacts.filter(workspace=workspace, status=ContactStatus.ACTIVE).update(
        status=ContactStatus.ARCHIVED, updated_at=Now()
    )


def contacts_delete(*, workspace: Workspace, contacts: QuerySet[Contact]) -> int:
    """Deletes the contacts; their suppressions stay (a re-import stays suppressed)."""
    contacts = contacts.filter(workspace=workspace)
    _total, by_model = contacts.delete()
    return by_model.get(Contact._meta.label, 0)


def contacts_tag(*, workspace: Workspace, contacts: QuerySet[Contact], tag_name: str) -> int:
    """Returns how many contacts did not have the tag yet."""
    tags = tags_resolve(workspace=workspace, names=[tag_name])
    if not tags:
        raise ServiceError(_("Enter a tag name."), field="tag")
    return memberships_add(
        through=Contact.tags.through,
        owner_column="tag_id",
        owner=tags[0],
        contacts=contacts.filter(workspace=workspace),
    )
