"""Shared by the modules of this package."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from contacts import selectors
from contacts.forms import (
    ContactFilterForm,
)


def render_section(request: HttpRequest, template: str, tab: str, context: dict) -> HttpResponse:
    return render(request, template, {"active": "contacts", "contacts_tab": tab, **context})


# A list that no longer exists (an old link) matches no one, never everyone.
_NO_LIST = str(uuid.UUID(int=0))


def contact_filters(form: ContactFilterForm) -> selectors.ContactFilters:
    form.is_valid()  # an invalid field drops out of cleaned_data; the valid ones still apply
    data = form.cleaned_data
    return selectors.ContactFilters(
        search=data.get("search", ""),
        status=data.get("status", ""),
        list_id=_NO_LIST if "list" in form.errors else data.get("list", ""),
        tag=data.get("tag", ""),
    )
