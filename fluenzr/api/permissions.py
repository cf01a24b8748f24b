from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.errors import PlanLimitError
from accounts.models import ApiKey

if TYPE_CHECKING:
    from rest_framework.views import APIView
from accounts.services import workspace_require_feature


class HasWorkspaceApiAccess(BasePermission):
    """An API key of a workspace whose plan includes the API."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not isinstance(request.auth, ApiKey):
            return False
        try:
            workspace_require_feature(workspace=request.auth.workspace, feature="api")
        except PlanLimitError as error:
            raise PermissionDenied(error.message, code=error.code) from None
        return True
