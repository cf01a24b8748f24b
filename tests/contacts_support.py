"""Helpers shared by the contacts tests."""

from __future__ import annotations

from contacts import services
from contacts.models import Contact, ContactList
from webhooks.models import Event


def make_contact(actor, email: str, **fields) -> Contact:
    tags = fields.pop("tags", ())
    lists = fields.pop("lists", ())
    return services.contact_create(
        workspace=actor.workspace, data={"email": email, **fields}, tags=tags, lists=lists
    )


def make_list(actor, name: str) -> ContactList:
    return services.list_create(workspace=actor.workspace, name=name)


def contacts_of(actor):
    return Contact.objects.for_workspace(actor.workspace)


def events(actor, type: str):
    return Event.objects.for_workspace(actor.workspace).filter(type=type)
