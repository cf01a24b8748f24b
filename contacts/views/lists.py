"""Dashboard: lists of contacts."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import workspace_required
from accounts.errors import ServiceError, form_error
from contacts import selectors, services
from contacts.forms import (
    ListForm,
)
from contacts.models import ContactList
from contacts.views.common import render_section


@workspace_required
def list_index(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    form = ListForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            contact_list = services.list_create(workspace=workspace, **form.cleaned_data)
        except ServiceError as error:
            form_error(form, error)
        else:
            messages.success(request, _("List “%(name)s” created.") % {"name": contact_list.name})
            return redirect("contact_lists")
    return render_section(
        request,
        "contacts/lists.html",
        "lists",
        {"form": form, "lists": selectors.lists_with_counts(workspace=workspace)},
    )


@workspace_required
def list_edit(request: HttpRequest, pk: str) -> HttpResponse:
    workspace = request.workspace
    contact_list = get_object_or_404(ContactList.objects.for_workspace(workspace), pk=pk)
    form = ListForm(
        request.POST or None,
        initial={"name": contact_list.name, "description": contact_list.description},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.list_update(
                workspace=workspace, contact_list=contact_list, **form.cleaned_data
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            messages.success(request, _("List saved."))
            return redirect("contact_lists")
    return render_section(
        request, "contacts/list_edit.html", "lists", {"form": form, "contact_list": contact_list}
    )


@workspace_required
@require_POST
def list_delete(request: HttpRequest, pk: str) -> HttpResponse:
    workspace = request.workspace
    contact_list = get_object_or_404(ContactList.objects.for_workspace(workspace), pk=pk)
    services.list_delete(workspace=workspace, contact_list=contact_list)
    messages.success(
        request,
        _("List “%(name)s” deleted. Its contacts are still in Contacts.")
        % {"name": contact_list.name},
    )
    return redirect("contact_lists")
