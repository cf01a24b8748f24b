"""Dashboard: contacts, lists, imports and the suppression list."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.decorators import workspace_required
from accounts.errors import ServiceError
from contacts import exporting, selectors, services
from contacts.forms import (
    BlocklistUploadForm,
    BulkActionForm,
    ContactFilterForm,
    ContactForm,
    ImportMappingForm,
    ImportUploadForm,
    ListForm,
    SuppressionForm,
)
from contacts.importing import service as imports
from contacts.models import Contact, ContactList, Import, ImportStatus, Suppression

ROW_ERRORS_SHOWN = 100


def _form_error(form, error: ServiceError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


def _render(request: HttpRequest, template: str, tab: str, context: dict) -> HttpResponse:
    return render(request, template, {"active": "contacts", "contacts_tab": tab, **context})


# A list that no longer exists (an old link) matches no one, never everyone.
_NO_LIST = str(uuid.UUID(int=0))


def _filters(form: ContactFilterForm) -> selectors.ContactFilters:
    form.is_valid()  # an invalid field drops out of cleaned_data; the valid ones still apply
    data = form.cleaned_data
    return selectors.ContactFilters(
        search=data.get("search", ""),
        status=data.get("status", ""),
        list_id=_NO_LIST if "list" in form.errors else data.get("list", ""),
        tag=data.get("tag", ""),
    )


# Contacts ------------------------------------------------------------------------------------


@workspace_required
def contact_index(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    filter_form = ContactFilterForm(request.GET, workspace=workspace)
    filters = _filters(filter_form)
    contacts = selectors.contacts_filtered(workspace=workspace, filters=filters)
    sort = filter_form.cleaned_data.get("sort") or "-created"
    page = selectors.contacts_page(
        contacts=contacts, sort=sort, cursor=request.GET.get("cursor", "")
    )
    total, more = selectors.count_capped(contacts)
    query = request.GET.copy()
    query.pop("cursor", None)
    return _render(
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
        data = dict(form.cleaned_data)
        tags, list_ids = data.pop("tags"), data.pop("lists")
        try:
            contact = services.contact_create(
                workspace=workspace,
                data=data,
                tags=tags,
                lists=ContactList.objects.for_workspace(workspace).filter(pk__in=list_ids),
            )
        except ServiceError as error:
            _form_error(form, error)
        else:
            messages.success(request, _("Contact %(email)s added.") % {"email": contact.email})
            return redirect("contact_detail", pk=contact.pk)
    return _render(request, "contacts/contact_form.html", "contacts", {"form": form})


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
        data = dict(form.cleaned_data)
        tags, list_ids = data.pop("tags"), data.pop("lists")
        try:
            services.contact_update(
                workspace=workspace,
                contact=contact,
                data=data,
                tags=tags,
                lists=ContactList.objects.for_workspace(workspace).filter(pk__in=list_ids),
            )
        except ServiceError as error:
            _form_error(form, error)
        else:
            messages.success(request, _("Contact saved."))
            return redirect("contact_detail", pk=contact.pk)
    return _render(
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
    contacts = selectors.contacts_filtered(workspace=workspace, filters=_filters(filter_form))
    return exporting.contacts_csv_response(
        workspace=workspace,
        contacts=contacts,
        custom_keys=selectors.custom_field_keys(workspace=workspace),
        filename="contacts.csv",
    )


# Lists ---------------------------------------------------------------------------------------


@workspace_required
def list_index(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    form = ListForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            contact_list = services.list_create(workspace=workspace, **form.cleaned_data)
        except ServiceError as error:
            _form_error(form, error)
        else:
            messages.success(request, _("List “%(name)s” created.") % {"name": contact_list.name})
            return redirect("contact_lists")
    return _render(
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
            _form_error(form, error)
        else:
            messages.success(request, _("List saved."))
            return redirect("contact_lists")
    return _render(
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


# Imports -------------------------------------------------------------------------------------


@workspace_required
def import_index(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            draft = imports.import_create(
                workspace=workspace, actor=request.user, upload=form.cleaned_data["file"]
            )
        except ServiceError as error:
            _form_error(form, error)
        else:
            return redirect("import_detail", pk=draft.pk)
    return _render(
        request,
        "contacts/imports.html",
        "imports",
        {"form": form, "imports": selectors.imports_of(workspace=workspace)[:50]},
    )


@workspace_required
def import_detail(request: HttpRequest, pk: str) -> HttpResponse:
    workspace = request.workspace
    source_import = get_object_or_404(Import.objects.for_workspace(workspace), pk=pk)
    form = None
    if source_import.status == ImportStatus.DRAFT:
        form = ImportMappingForm(
            request.POST or None, workspace=workspace, source_import=source_import
        )
        if request.method == "POST" and form.is_valid():
            try:
                _start_import(request, form, source_import)
            except ServiceError as error:
                _form_error(form, error)
            else:
                return redirect("import_detail", pk=source_import.pk)
    return _render(
        request,
        "contacts/import_detail.html",
        "imports",
        {
            "import": source_import,
            "form": form,
            "row_errors": source_import.row_errors.all()[:ROW_ERRORS_SHOWN],
            "row_errors_shown": ROW_ERRORS_SHOWN,
        },
    )


@transaction.atomic  # a refused mapping leaves no new list behind
def _start_import(request: HttpRequest, form: ImportMappingForm, source_import: Import) -> None:
    workspace = request.workspace
    data = form.cleaned_data
    target_list = None
    if data["new_list"].strip():
        target_list = services.list_create(workspace=workspace, name=data["new_list"])
    elif data["target_list"]:
        target_list = get_object_or_404(
            ContactList.objects.for_workspace(workspace), pk=data["target_list"]
        )
    imports.import_start(
        workspace=workspace,
        source_import=source_import,
        mapping=form.mapping(),
        target_list=target_list,
        on_duplicate=data["on_duplicate"],
    )


@workspace_required
def import_progress(request: HttpRequest, pk: str) -> HttpResponse:
    """Polled by the progress bar; a finished import reloads the page to show the result."""
    source_import = get_object_or_404(Import.objects.for_workspace(request.workspace), pk=pk)
    response = render(request, "contacts/_import_progress.html", {"import": source_import})
    if source_import.is_finished:
        response["HX-Refresh"] = "true"
    return response


@workspace_required
def import_errors_csv(request: HttpRequest, pk: str) -> HttpResponse:
    source_import = get_object_or_404(Import.objects.for_workspace(request.workspace), pk=pk)
    return exporting.import_errors_csv_response(source_import)


@workspace_required
@require_POST
def import_cancel(request: HttpRequest, pk: str) -> HttpResponse:
    """Drops a draft whose mapping was never confirmed."""
    source_import = get_object_or_404(Import.objects.for_workspace(request.workspace), pk=pk)
    imports.import_discard(workspace=request.workspace, source_import=source_import)
    return redirect("contact_imports")


# Suppression list ---------------------------------------------------------------------------


@workspace_required
def suppression_index(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    form = SuppressionForm(request.POST if "value" in request.POST else None)
    upload_form = BlocklistUploadForm(
        request.POST if "file" in request.FILES else None, request.FILES or None
    )
    if form.is_bound and form.is_valid():
        try:
            suppression, created = services.suppression_add(
                workspace=workspace,
                source=request.user.email,
                actor=request.user,
                **form.cleaned_data,
            )
        except ServiceError as error:
            _form_error(form, error)
        else:
            text = (
                _("%(value)s added to the suppression list.")
                if created
                else _("%(value)s was already on the suppression list.")
            )
            messages.success(request, text % {"value": suppression.value})
            return redirect("suppressions")
    if upload_form.is_bound and upload_form.is_valid():
        try:
            result = services.suppressions_import(
                workspace=workspace, upload=upload_form.cleaned_data["file"], actor=request.user
            )
        except ServiceError as error:
            _form_error(upload_form, error)
        else:
            _report_blocklist(request, result)
            return redirect("suppressions")
    search = request.GET.get("q", "")[:200]
    suppressions = selectors.suppressions_of(workspace=workspace, search=search)
    return _render(
        request,
        "contacts/suppressions.html",
        "suppressions",
        {
            "form": form,
            "upload_form": upload_form,
            "suppressions": suppressions[:200],
            "total": suppressions.count(),
            "search": search,
        },
    )


def _report_blocklist(request: HttpRequest, result: services.BlocklistResult) -> None:
    messages.success(
        request,
        _("Blocklist imported: %(added)d added, %(already)d already on the list.")
        % {"added": result.added, "already": result.already},
    )
    if result.invalid:
        shown = ", ".join(f"{line} ({value})" for line, value in result.invalid[:10])
        messages.warning(
            request,
            ngettext(
                "%(count)d line was not an email address or domain and was skipped: %(lines)s",
                "%(count)d lines were not email addresses or domains and were skipped: %(lines)s",
                len(result.invalid),
            )
            % {"count": len(result.invalid), "lines": shown},
        )


@workspace_required
@require_POST
def suppression_delete(request: HttpRequest, pk: str) -> HttpResponse:
    workspace = request.workspace
    suppression = get_object_or_404(Suppression.objects.for_workspace(workspace), pk=pk)
    services.suppression_remove(workspace=workspace, suppression=suppression)
    messages.success(
        request,
        _("%(value)s removed from the suppression list: it can be emailed again.")
        % {"value": suppression.value},
    )
    return redirect("suppressions")
