"""Every write to contacts, lists, tags and the suppression list. (Imports: importing/.)"""

from __future__ import annotations

import csv
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from accounts.errors import ServiceError
from accounts.models import User, Workspace
from accounts.services import require_in_workspace
from contacts.emails import EmailChecker, normalize_email
from contacts.importing.columns import IMPORT_FIELDS
from contacts.importing.sniff import UnreadableFile, open_text, sniff
from contacts.models import (
    CUSTOM_VALUE_MAX_LENGTH,
    FIELD_MAX_LENGTHS,
    Contact,
    ContactList,
    ContactSource,
    ContactStatus,
    Suppression,
    SuppressionKind,
    SuppressionReason,
    Tag,
)
from webhooks.events import emit

CONTACT_FIELDS = tuple(IMPORT_FIELDS)  # email, first_name, …, timezone
BULK_CREATE_MAX = 1000


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


def _clean_email(value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ServiceError(_("Enter the contact's email address."), field="email")
    verdict = normalize_email(value)
    if verdict.normalized is None:
        raise ServiceError(
            _("“%(email)s” is not a valid email address: %(reason)s")
            % {"email": value, "reason": verdict.error},
            field="email",
        )
    return verdict.normalized


def _clean_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Contact fields from a form or API body: stripped, checked, email normalised."""
    cleaned: dict[str, Any] = {}
    for name in CONTACT_FIELDS:
        if name not in data:
            continue
        value = (data[name] or "").strip()
        if len(value) > FIELD_MAX_LENGTHS[name]:
            raise ServiceError(
                _("Keep this under %(max)d characters.") % {"max": FIELD_MAX_LENGTHS[name]},
                field=name,
            )
        cleaned[name] = value
    if "email" in cleaned:
        cleaned["email"] = _clean_email(cleaned["email"])
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
    others = Contact.objects.for_workspace(workspace).filter(email__iexact=email)
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
    cleaned = _clean_fields(data)
    if "email" not in cleaned:
        raise ServiceError(_("Enter the contact's email address."), field="email")
    status = _clean_status(data.get("status"))
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


def _clean_status(status: str | None) -> str | None:
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
    cleaned = _clean_fields(data)
    if "email" in cleaned and _email_taken(workspace, cleaned["email"], exclude=contact):
        raise _duplicate_error(cleaned["email"])
    status = _clean_status(data.get("status"))
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


@dataclass
class BulkResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)


def contacts_bulk_create(
    *,
    workspace: Workspace,
    items: list[dict[str, Any]],
    update_existing: bool,
    contact_list: ContactList | None = None,
) -> BulkResult:
    """Up to 1,000 contacts from the API; each item succeeds or fails on its own."""
    if len(items) > BULK_CREATE_MAX:
        raise ServiceError(
            _("Send at most %(max)d contacts per request; split the rest into more requests.")
            % {"max": BULK_CREATE_MAX},
            field="contacts",
        )
    lists = [contact_list] if contact_list else []
    result = BulkResult()
    for index, item in enumerate(items):
        tags = item.pop("tags", None)
        try:
            with transaction.atomic():
                email = _clean_email(item.get("email", ""))
                existing = (
                    Contact.objects.for_workspace(workspace).filter(email__iexact=email).first()
                )
                if existing is None:
                    contact = contact_create(
                        workspace=workspace,
                        data=item,
                        source=ContactSource.API,
                        tags=tags or (),
                        lists=lists,
                    )
                    outcome = "created"
                elif update_existing:
                    contact = contact_update(
                        workspace=workspace, contact=existing, data=item, tags=tags
                    )
                    for contact_list in lists:
                        contact_list.contacts.add(contact)
                    outcome = "updated"
                else:
                    contact, outcome = existing, "skipped"
        except ServiceError as error:
            result.failed += 1
            result.items.append(
                {
                    "index": index,
                    "status": "error",
                    "errors": {error.field or "email": [error.message]},
                }
            )
            continue
        setattr(result, outcome, getattr(result, outcome) + 1)
        result.items.append({"index": index, "status": outcome, "id": str(contact.pk)})
    return result


def contacts_archive(*, workspace: Workspace, contacts: QuerySet[Contact]) -> int:
    return contacts.filter(workspace=workspace).update(status=ContactStatus.ARCHIVED)


def contacts_delete(*, workspace: Workspace, contacts: QuerySet[Contact]) -> int:
    """Deletes the contacts; their suppressions stay (a re-import stays suppressed)."""
    contacts = contacts.filter(workspace=workspace)
    _total, by_model = contacts.delete()
    return by_model.get(Contact._meta.label, 0)


def contacts_tag(*, workspace: Workspace, contacts: QuerySet[Contact], tag_name: str) -> int:
    tags = tags_resolve(workspace=workspace, names=[tag_name])
    if not tags:
        raise ServiceError(_("Enter a tag name."), field="tag")
    tag = tags[0]
    through = Contact.tags.through
    ids = list(contacts.filter(workspace=workspace).values_list("pk", flat=True))
    through.objects.bulk_create(
        [through(contact_id=pk, tag_id=tag.pk) for pk in ids], ignore_conflicts=True
    )
    return len(ids)


# Lists ---------------------------------------------------------------------------------------


def _clean_list_name(workspace: Workspace, name: str, exclude: ContactList | None) -> str:
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("Give the list a name."), field="name")
    if len(name) > 100:
        raise ServiceError(_("Keep list names under 100 characters."), field="name")
    others = ContactList.objects.for_workspace(workspace).filter(name__iexact=name)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        raise ServiceError(
            _("A list called “%(name)s” already exists. Choose another name.") % {"name": name},
            field="name",
        )
    return name


def list_create(*, workspace: Workspace, name: str, description: str = "") -> ContactList:
    name = _clean_list_name(workspace, name, exclude=None)
    try:
        with transaction.atomic():
            return ContactList.objects.create(
                workspace=workspace, name=name, description=(description or "").strip()[:500]
            )
    except IntegrityError:
        raise ServiceError(
            _("A list called “%(name)s” already exists. Choose another name.") % {"name": name},
            field="name",
        ) from None


def list_update(
    *, workspace: Workspace, contact_list: ContactList, name: str, description: str = ""
) -> ContactList:
    require_in_workspace(contact_list, workspace)
    contact_list.name = _clean_list_name(workspace, name, exclude=contact_list)
    contact_list.description = (description or "").strip()[:500]
    contact_list.save(update_fields=["name", "description"])
    return contact_list


def list_delete(*, workspace: Workspace, contact_list: ContactList) -> None:
    """Removes the list and its memberships; the contacts stay."""
    require_in_workspace(contact_list, workspace)
    contact_list.delete()


def list_add_contacts(
    *, workspace: Workspace, contact_list: ContactList, contacts: QuerySet[Contact]
) -> int:
    require_in_workspace(contact_list, workspace)
    through = ContactList.contacts.through
    ids = list(contacts.filter(workspace=workspace).values_list("pk", flat=True))
    through.objects.bulk_create(
        [through(contactlist_id=contact_list.pk, contact_id=pk) for pk in ids],
        ignore_conflicts=True,
    )
    return len(ids)


def list_remove_contacts(
    *, workspace: Workspace, contact_list: ContactList, contacts: QuerySet[Contact]
) -> int:
    require_in_workspace(contact_list, workspace)
    ids = contacts.filter(workspace=workspace).values_list("pk", flat=True)
    removed, _by_model = ContactList.contacts.through.objects.filter(
        contactlist=contact_list, contact_id__in=ids
    ).delete()
    return removed


# Suppression list ---------------------------------------------------------------------------


def suppression_parse(value: str) -> tuple[str, str]:
    """'Jean@Acme.com' → ('email', 'jean@acme.com'); '@acme.com' or 'acme.com' → a domain."""
    value = (value or "").strip().lower()
    if not value:
        raise ServiceError(_("Enter an email address or a domain."), field="value")
    if "@" in value.lstrip("@"):
        try:
            return SuppressionKind.EMAIL, _clean_email(value).lower()
        except ServiceError as error:
            raise ServiceError(error.message, field="value") from None
    domain = value.lstrip("@")
    verdict = EmailChecker().full(f"a@{domain}")
    if verdict.normalized is None:
        raise ServiceError(
            _("“%(value)s” is neither an email address nor a domain such as acme.com.")
            % {"value": value},
            field="value",
        )
    return SuppressionKind.DOMAIN, verdict.normalized.partition("@")[2].lower()


def suppression_add(
    *,
    workspace: Workspace,
    value: str,
    reason: str = SuppressionReason.MANUAL,
    source: str = "",
    actor: User | None = None,
) -> tuple[Suppression, bool]:
    """Adds an address or domain; an existing entry is kept as it is. Returns (entry, new)."""
    if reason not in SuppressionReason.values:
        raise ServiceError(_("Choose a valid reason."), field="reason")
    kind, normalized = suppression_parse(value)
    existing = Suppression.objects.for_workspace(workspace).filter(value=normalized).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            suppression = Suppression.objects.create(
                workspace=workspace,
                kind=kind,
                value=normalized,
                reason=reason,
                source=source[:200],
                created_by=actor,
            )
    except IntegrityError:
        return Suppression.objects.for_workspace(workspace).get(value=normalized), False
    return suppression, True


def suppression_remove(*, workspace: Workspace, suppression: Suppression) -> None:
    require_in_workspace(suppression, workspace)
    suppression.delete()


@dataclass
class BlocklistResult:
    added: int = 0
    already: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (line, value)


BLOCKLIST_MAX_LINES = 100_000


def suppressions_import(
    *, workspace: Workspace, upload: UploadedFile, actor: User | None
) -> BlocklistResult:
    """A blocklist file: one address or domain per line, in the first column. A header row
    (a first line that is neither) is skipped; invalid lines are reported by number."""
    try:
        shape = sniff(upload.file)
    except UnreadableFile as error:
        raise ServiceError(str(error), field="file") from None
    upload.file.seek(0)
    result = BlocklistResult()
    text = open_text(upload.file, shape.encoding)
    entries: dict[str, tuple[str, str]] = {}
    try:
        reader = csv.reader(text, delimiter=shape.delimiter)
        for line, record in enumerate(reader, 1):
            value = record[0].strip() if record else ""
            if not value:
                continue
            if reader.line_num > BLOCKLIST_MAX_LINES:
                raise ServiceError(
                    _("Blocklists of up to %(max)s lines only; split the file.")
                    % {"max": number_format(BLOCKLIST_MAX_LINES, force_grouping=True)},
                    field="file",
                )
            try:
                kind, normalized = suppression_parse(value)
            except ServiceError:
                if line > 1:  # a first line that is no address is the header
                    result.invalid.append((reader.line_num, value[:100]))
                continue
            entries[normalized] = (kind, value)
    except (csv.Error, UnicodeDecodeError):
        raise ServiceError(
            _("The file could not be read as CSV. Save it as “CSV UTF-8” and try again."),
            field="file",
        ) from None
    finally:
        text.detach()
    existing = set(
        Suppression.objects.for_workspace(workspace)
        .filter(value__in=list(entries))
        .values_list("value", flat=True)
    )
    source = _("Blocklist %(file)s") % {"file": upload.name}
    Suppression.objects.bulk_create(
        [
            Suppression(
                workspace=workspace,
                kind=kind,
                value=value,
                reason=SuppressionReason.MANUAL,
                source=source[:200],
                created_by=actor,
            )
            for value, (kind, _original) in entries.items()
            if value not in existing
        ],
        ignore_conflicts=True,
    )
    result.already = len(existing)
    result.added = len(entries) - len(existing)
    return result
