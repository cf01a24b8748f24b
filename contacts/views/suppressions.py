"""Dashboard: the suppression list."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.decorators import workspace_required
from accounts.errors import ServiceError, form_error
from contacts import selectors, services
from contacts.forms import (
    BlocklistUploadForm,
    SuppressionForm,
)
from contacts.models import Suppression
from contacts.views.common import render_section


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
            form_error(form, error)
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
            form_error(upload_form, error)
        else:
            _report_blocklist(request, result)
            return redirect("suppressions")
    search = request.GET.get("q", "")[:200]
    suppressions = selectors.suppressions_of(workspace=workspace, search=search)
    return render_section(
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
