"""Reads about users, workspaces, members and keys."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import ApiKey, Invitation, InvitationStatus, Membership, User, Workspace
from accounts.services import api_key_hashes


def memberships_of_user(*, user: User) -> QuerySet[Membership]:
    """The user's memberships in every workspace (a user spans tenants)."""
    return (
        Membership.objects.unscoped()
        .filter(user=user)
        .select_related("workspace")
        .order_by("workspace__name")
    )


def workspace_for_user(*, user: User) -> Workspace | None:
    """The workspace the dashboard shows: the current one while still a member, else the first."""
    memberships = memberships_of_user(user=user)
    if user.current_workspace_id:
        current = memberships.filter(workspace_id=user.current_workspace_id).first()
        if current is not None:
            return current.workspace
    first = memberships.first()
    return first.workspace if first else None


def membership_of(*, workspace: Workspace, user: User) -> Membership | None:
    return Membership.objects.for_workspace(workspace).filter(user=user).first()


def members_of(*, workspace: Workspace) -> QuerySet[Membership]:
    return Membership.objects.for_workspace(workspace).select_related("user").order_by("created_at")


def pending_invitations_of(*, workspace: Workspace) -> QuerySet[Invitation]:
    return Invitation.objects.for_workspace(workspace).filter(status=InvitationStatus.PENDING)


def has_pending_invitation(*, email: str) -> bool:
    return (
        Invitation.objects.unscoped()  # invitations to any workspace, for this address
        .filter(email__iexact=email, status=InvitationStatus.PENDING, expires_at__gt=timezone.now())
        .exists()
    )


def api_keys_of(*, workspace: Workspace) -> QuerySet[ApiKey]:
    return ApiKey.objects.for_workspace(workspace).select_related("created_by")


def api_key_for_token(*, token: str) -> ApiKey | None:
    """The key a bearer token names, in whichever workspace it belongs to (revoked included)."""
    return (
        ApiKey.objects.unscoped()  # the token, not a session, names the workspace
        .select_related("workspace")
        .filter(key_hash__in=api_key_hashes(token))
        .first()
    )


def workspace_usage(*, workspace: Workspace) -> dict[str, int]:
    return {
        "members": Membership.objects.for_workspace(workspace).count(),
        "active_api_keys": ApiKey.objects.for_workspace(workspace)
        .filter(revoked_at__isnull=True)
        .count(),
    }
