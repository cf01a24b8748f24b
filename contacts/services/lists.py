"""Every write to lists of contacts."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from accounts.errors import ServiceError
from accounts.models import Workspace
from accounts.services import require_in_workspace
from contacts.models import Contact, ContactList

# Lists ---------------------------------------------------------------------------------------
from contacts.services.memberships import memberships_add


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
    """Returns how many contacts were not in the list yet."""
    require_in_workspace(contact_list, workspace)
    return memberships_add(
        through=ContactList.contacts.through,
        owner_column="contactlist_id",
        owner=contact_list,
        contacts=contacts.filter(workspace=workspace),
    )


def list_remove_contacts(
    *, workspace: Workspace, contact_list: ContactList, contacts: QuerySet[Contact]
) -> int:
    require_in_workspace(contact_list, workspace)
    ids = contacts.filter(workspace=workspace).values_list("pk", flat=True)
    removed, _by_model = ContactList.contacts.through.objects.filter(
        contactlist=contact_list, contact_id__in=ids
    ).delete()
    return removed
