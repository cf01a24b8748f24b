"""Dashboard: the contacts table, one contact, bulk actions, export."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.decorators import workspace_required
from accounts.errors import ServiceError, form_error
from contacts import exporting, selectors, services
from contacts.forms import (
    BulkActionForm,
    ContactFilterForm,
    ContactForm,
)
from contacts.models import Contact, ContactList
from contacts.views.common import contact_filters, render_section


@workspace_required
def contact_index(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    filter_form = ContactFilterForm(request.GET, workspace=workspace)
    filters = contact_filters(filter_form)
    contacts = selectors.contacts_filtered(workspace=workspace, filters=filters)
    sort = filter_form.cleaned_data.get("sort") or "-created"
    page = selectors.contacts_page(
        contacts=contacts, sort=sort, cursor=request.GET.get("cursor", "")
    )
    total, more = selectors.count_capped(contacts)
    query = request.GET.copy()
    query.pop("cursor", None)
    return render_section(
        request,
        "contacts/index.html",
        "contacts",
        {
            "filter_form": filter_form,
            "page": page,
            "total": total,
            "total_is_capped": more,
            "filtered": filters != selectors.ContactFilters(),
            "query": query.urlencode(),
            "bulk_form": BulkActionForm(workspace=workspace),
            "has_any_contact": total > 0 or Contact.objects.for_workspace(workspace).exists(),
        },
    )


@workspace_required
def contact_new(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    form = ContactForm(request.POST or None, workspace=workspace, creating=True)
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.contact_create(
                workspace=workspace, **form.service_arguments(workspace)
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            messages.success(request, _("Contact %(email)s added.") % {"email": contact.email})
            return redirect("contact_detail", pk=contact.pk)
    return render_section(request, "contacts/contact_form.html", "contacts", {"form": form})


@workspace_required
def contact_detail(request: HttpRequest, pk: str) -> HttpResponse:
    workspace = request.workspace
    contact = get_object_or_404(Contact.objects.for_workspace(workspace), pk=pk)
    initial = {
        **{field: getattr(contact, field) for field in services.CONTACT_FIELDS},
        "status": contact.status,
        "tags": ", ".join(tag.name for tag in contact.tags.all()),
        "lists": [str(pk) for pk in contact.lists.values_list("pk", flat=True)],
        "custom_fields": ContactForm.custom_fields_text(contact.custom_fields),
    }
    form = ContactForm(request.POST or None, workspace=workspace, creating=False, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_update(
                workspace=workspace, contact=contact, **form.service_arguments(workspace)
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            messages.success(request, _("Contact saved."))
            return redirect("contact_detail", pk=contact.pk)
    return render_section(
        request,
        "contacts/contact_detail.html",
        "contacts",
        {
            "contact": contact,
            "form": form,
            "sendability": selectors.email_sendability(workspace=workspace, email=contact.email),
            "timeline": selectors.contact_timeline(workspace=workspace, contact=contact),
            "lists": contact.lists.all(),
        },
    )


@workspace_required
@require_POST
def contact_unsubscribe(request: HttpRequest, pk: str) -> HttpResponse:
    contact = get_object_or_404(Contact.objects.for_workspace(request.workspace), pk=pk)
    services.contact_unsubscribe(
        workspace=request.workspace, contact=contact, source=request.user.email
    )
    messages.success(
        request,
        _("%(email)s is unsubscribed and on the suppression list.") % {"email": contact.email},
    )
    return redirect("contact_detail", pk=contact.pk)


@workspace_required
@require_POST
def contact_delete(request: HttpRequest, pk: str) -> HttpResponse:
    workspace = request.workspace
    contact = get_object_or_404(Contact.objects.for_workspace(workspace), pk=pk)
    services.contacts_delete(
        workspace=workspace, contacts=Contact.objects.for_workspace(workspace).filter(pk=pk)
    )
    messages.success(request, _("Contact %(email)s deleted.") % {"email": contact.email})
    return redirect("contacts")


@workspace_required
@require_POST
def contact_bulk(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    form = BulkActionForm(request.POST, workspace=workspace)
    back = reverse("contacts") + ("?" + request.POST["query"] if request.POST.get("query") else "")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    data = form.cleaned_data
    if data["all_matching"]:
        filters = contact_filters(
            ContactFilterForm(QueryDict(request.POST.get("query", "")), workspace=workspace)
        )
        selected = selectors.contacts_filtered(workspace=workspace, filters=filters)
    else:
        selected = Contact.objects.for_workspace(workspace).filter(pk__in=_uuids(data["ids"]))
    action = data["action"]
    if action == "export":
        return exporting.contacts_csv_response(
            workspace=workspace,
            contacts=selected,
            custom_keys=selectors.custom_field_keys(workspace=workspace),
            filename="contacts.csv",
        )
    try:
        if action == "add_to_list":
            contact_list = get_object_or_404(
                ContactList.objects.for_workspace(workspace), pk=data["list"]
            )
            count = services.list_add_contacts(
                workspace=workspace, contact_list=contact_list, contacts=selected
            )
            message = ngettext(
                "%(count)d contact added to %(list)s.",
                "%(count)d contacts added to %(list)s.",
                count,
            ) % {"count": count, "list": contact_list.name}
        elif action == "tag":
            count = services.contacts_tag(
                workspace=workspace, contacts=selected, tag_name=data["tag"]
            )
            message = ngettext(
                "%(count)d contact tagged “%(tag)s”.", "%(count)d contacts tagged “%(tag)s”.", count
            ) % {"count": count, "tag": data["tag"].strip()}
        elif action == "archive":
            count = services.contacts_archive(workspace=workspace, contacts=selected)
            message = ngettext(
                "%(count)d contact archived.", "%(count)d contacts archived.", count
            ) % {"count": count}
        else:
            count = selected.count()
            services.contacts_delete(workspace=workspace, contacts=selected)
            message = ngettext(
                "%(count)d contact deleted.", "%(count)d contacts deleted.", count
            ) % {"count": count}
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, message)
    return redirect(back)


def _uuids(values: list[str]) -> list[str]:
    valid = []
    for value in values:
        try:
            valid.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return valid


@workspace_required
def contact_export(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    filter_form = ContactFilterForm(request.GET, workspace=workspace)
    contacts = selectors.contacts_filtered(
        workspace=workspace, filters=contact_filters(filter_form)
    )
    return exporting.contacts_csv_response(
        workspace=workspace,
        contacts=contacts,
        custom_keys=selectors.custom_field_keys(workspace=workspace),
        filename="contacts.csv",
    )
