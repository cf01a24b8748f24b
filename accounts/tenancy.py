"""Tenancy, made hard to forget (DESIGN.md §3).

Every tenant model inherits `WorkspaceOwnedModel`. Its manager only answers queries that are
scoped: explicitly (`Model.objects.for_workspace(ws)`), implicitly by the workspace that
`activate_workspace` made current for this request or task, or through the related manager
of a workspace or of another tenant object. Anything else raises `UnscopedQueryError` (fail
closed). Going around the scoping is spelled out, so a reviewer can grep for it:
`Model.objects.unscoped()` for one query, `all_workspaces_scope()` for the staff admin.

A queryset takes the scope in force when it is built: never keep one across requests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from django.db import models
from django.http import HttpRequest

if TYPE_CHECKING:
    from accounts.models import Workspace

_current_workspace: ContextVar[Workspace | None] = ContextVar("current_workspace", default=None)
_all_workspaces: ContextVar[bool] = ContextVar("all_workspaces", default=False)


class UnscopedQueryError(RuntimeError):
    """A tenant model was queried with no workspace in scope."""


def current_workspace() -> Workspace | None:
    return _current_workspace.get()


def activate_workspace(request: HttpRequest, workspace: Workspace | None) -> None:
    """The one resolver's single write: `request.workspace` and the scope of its queries.

    The middleware resets the scope when the request ends (see WorkspaceMiddleware).
    """
    request.workspace = workspace
    _current_workspace.set(workspace)


@contextmanager
def workspace_scope(workspace: Workspace) -> Iterator[None]:
    """Scope queries to `workspace` outside a request (Celery tasks, commands, tests)."""
    token = _current_workspace.set(workspace)
    try:
        yield
    finally:
        _current_workspace.reset(token)


@contextmanager
def all_workspaces_scope() -> Iterator[None]:
    """Every workspace's rows, for the staff admin only (see fluenzr.admin)."""
    token = _all_workspaces.set(True)
    try:
        yield
    finally:
        _all_workspaces.reset(token)


class WorkspaceQuerySet(models.QuerySet):
    def for_workspace(self, workspace: Workspace) -> WorkspaceQuerySet:
        return self.filter(workspace=workspace)


class WorkspaceScopedManager(models.Manager.from_queryset(WorkspaceQuerySet)):  # type: ignore[misc]
    def get_queryset(self) -> WorkspaceQuerySet:
        queryset = super().get_queryset()
        if _all_workspaces.get():
            return queryset
        # A workspace's or a tenant object's related manager is scoped by its parent. (A user's
        # is not: a user spans workspaces.)
        parent = getattr(self, "instance", None)
        if parent is not None and isinstance(parent, (WorkspaceOwnedModel, _workspace_model())):
            return queryset
        workspace = current_workspace()
        if workspace is None:
            raise UnscopedQueryError(
                f"{self.model.__name__} was queried with no workspace in scope: use "
                f"{self.model.__name__}.objects.for_workspace(workspace), workspace_scope(), "
                "or .unscoped() when crossing tenants is intended."
            )
        return queryset.filter(workspace=workspace)

    def for_workspace(self, workspace: Workspace) -> WorkspaceQuerySet:
        return super().get_queryset().filter(workspace=workspace)

    def create(self, **kwargs: object) -> models.Model:
        """Creating names its workspace: explicitly, or the one in scope."""
        if "workspace" not in kwargs and "workspace_id" not in kwargs:
            workspace = current_workspace()
            if workspace is None:
                raise UnscopedQueryError(
                    f"{self.model.__name__}.objects.create() needs a workspace."
                )
            kwargs["workspace"] = workspace
        return super().get_queryset().create(**kwargs)

    def unscoped(self) -> WorkspaceQuerySet:
        """Every workspace's rows. Only for admin, staff tools and cross-tenant workers."""
        return super().get_queryset()


def _workspace_model() -> type[models.Model]:
    from django.apps import apps

    return apps.get_model("accounts", "Workspace")


class WorkspaceOwnedModel(models.Model):
    """Base of every model that belongs to one workspace."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = WorkspaceScopedManager()

    class Meta:
        # Cascades and foreign-key traversal use Django's plain base manager, not this one.
        abstract = True
