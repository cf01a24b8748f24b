"""Dashboard: the CSV import wizard."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.decorators import workspace_required
from accounts.errors import ServiceError, form_error
from contacts import exporting, selectors
from contacts.forms import (
    ImportMappingForm,
    ImportUploadForm,
)
from contacts.importing import service as imports
from contacts.models import ContactList, Import, ImportStatus
from contacts.views.common import render_section

ROW_ERRORS_SHOWN = 100


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
            form_error(form, error)
        else:
            return redirect("import_detail", pk=draft.pk)
    return render_section(
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
                form_error(form, error)
            else:
                return redirect("import_detail", pk=source_import.pk)
    return render_section(
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


def _start_import(request: HttpRequest, form: ImportMappingForm, source_import: Import) -> None:
    workspace = request.workspace
    data = form.cleaned_data
    target_list = None
    if data["target_list"] and not data["new_list"].strip():
        target_list = get_object_or_404(
            ContactList.objects.for_workspace(workspace), pk=data["target_list"]
        )
    imports.import_start(
        workspace=workspace,
        source_import=source_import,
        mapping=form.mapping(),
        target_list=target_list,
        new_list_name=data["new_list"],
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
