"""The staff admin: the one place that crosses tenants, and says so."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from accounts.tenancy import all_workspaces_scope


class FluenzrAdminSite(admin.AdminSite):
    site_header = "FluenzR staff"
    site_title = "FluenzR staff"

    def admin_view(self, view: Callable[..., HttpResponse], cacheable: bool = False):
        protected = super().admin_view(view, cacheable)

        @wraps(protected)
        def every_workspace(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            # Staff see and edit every workspace: lists, inlines, choice fields, validation.
            with all_workspaces_scope():
                return protected(request, *args, **kwargs)

        return every_workspace
