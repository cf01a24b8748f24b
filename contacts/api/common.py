"""Shared by the modules of this package."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from contacts.models import ContactList


def uuid_list(value: Any, field: str) -> list[uuid.UUID]:
    if not isinstance(value, list):
        raise ValidationError({field: [_("Send a list of ids.")]})
    try:
        return [uuid.UUID(str(item)) for item in value]
    except ValueError:
        raise ValidationError({field: [_("Every item must be an id (a UUID).")]}) from None


def lists_by_id(request: Request, ids: list[uuid.UUID], field: str) -> list[ContactList]:
    found = {
        c.pk: c for c in ContactList.objects.for_workspace(request.workspace).filter(pk__in=ids)
    }
    missing = [str(pk) for pk in ids if pk not in found]
    if missing:
        raise ValidationError(
            {field: [_("No list with id %(ids)s in this workspace.") % {"ids": ", ".join(missing)}]}
        )
    return [found[pk] for pk in ids]
