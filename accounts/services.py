"""Every write to users, workspaces, memberships, invitations and API keys."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import string
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.errors import NotAllowed, NotFound, PlanLimitError, ServiceError
from accounts.models import (
    ApiKey,
    Invitation,
    InvitationStatus,
    Membership,
    Role,
    User,
    Workspace,
    validate_timezone,
)
from accounts.plans import FEATURE_NAMES, PlanCode, cheapest_plan_allowing, cheapest_plan_with
from webhooks.events import emit

API_KEY_PREFIX = "flz_sk_"
API_KEY_SECRET_LENGTH = 40  # base62 characters: ~238 bits
API_KEY_ALPHABET = string.ascii_letters + string.digits
API_KEY_FORMAT = re.compile(rf"{API_KEY_PREFIX}[A-Za-z0-9]{{32,}}")
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)
INVITATION_LIFETIME = timedelta(days=7)

logger = logging.getLogger(__name__)


# Workspaces ---------------------------------------------------------------------------------


@transaction.atomic
def workspace_create(*, owner: User, name: str, plan: str = PlanCode.FREE) -> Workspace:
    name = name.strip()
    if not name:
        raise ServiceError(_("Give the workspace a name."), field="name")
    workspace = Workspace.objects.create(name=name[:100], plan=plan)
    Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    owner.current_workspace = workspace
    owner.save(update_fields=["current_workspace"])
    return workspace


def workspace_update(*, workspace: Workspace, actor: User, name: str, timezone_name: str) -> None:
    membership_require_role(workspace=workspace, user=actor, minimum=Role.ADMIN)
    name = name.strip()
    if not name:
        raise ServiceError(_("Give the workspace a name."), field="name")
    try:
        validate_timezone(timezone_name)
    except ValidationError as error:
        raise ServiceError(error.messages[0], field="timezone") from None
    workspace.name = name[:100]
    workspace.timezone = timezone_name
    workspace.save(update_fields=["name", "timezone"])


def workspace_switch(*, user: User, workspace_id: str) -> Workspace:
    """Make another of the user's workspaces current. Not a member: the same error as missing."""
    try:
        workspace_uuid = uuid.UUID(str(workspace_id))
    except ValueError:
        membership = None
    else:
        membership = (
            Membership.objects.unscoped()  # the user's own memberships, in any workspace
            .select_related("workspace")
            .filter(user=user, workspace_id=workspace_uuid)
            .first()
        )
    if membership is None:
        raise ServiceError(_("That workspace does not exist or you are not a member of it."))
    user.current_workspace = membership.workspace
    user.save(update_fields=["current_workspace"])
    return membership.workspace


def workspace_set_plan(*, workspace: Workspace, plan: str) -> None:
    """Staff only (admin and `bootstrap_workspace`): billing is not self-serve yet."""
    if plan not in PlanCode.values:
        raise ServiceError(
            _("Unknown plan “%(plan)s”: choose free, starter or pro.") % {"plan": plan}
        )
    workspace.plan = plan
    workspace.save(update_fields=["plan"])


def workspace_require_feature(*, workspace: Workspace, feature: str) -> None:
    if getattr(workspace.plan_limits, feature):
        return
    plan = cheapest_plan_with(feature)
    raise PlanLimitError(
        _(
            "%(feature)s is not included in the %(current)s plan. "
            "Upgrade to the %(plan)s plan to use it."
        )
        % {
            "feature": FEATURE_NAMES[feature],
            "current": workspace.plan_limits.name,
            "plan": plan.name,
        },
        required_plan=plan,
    )


def _limit_message(limit: str, plan_name: str, maximum: int) -> str:
    if limit == "max_mailboxes":
        return ngettext(
            "The %(plan)s plan allows %(maximum)d mailbox.",
            "The %(plan)s plan allows %(maximum)d mailboxes.",
            maximum,
        ) % {"plan": plan_name, "maximum": maximum}
    raise ValueError(f"No message for the limit {limit!r}.")


def workspace_require_within_limit(*, workspace: Workspace, limit: str, wanted: int) -> None:
    """Refuse to go over a plan's count limit (e.g. a second mailbox on Free), naming the plan
    that lifts it. `wanted` is the count the workspace would have after the change."""
    maximum = getattr(workspace.plan_limits, limit)
    if maximum is None or wanted <= maximum:
        return
    plan = cheapest_plan_allowing(limit, wanted)
    message = _limit_message(limit, workspace.plan_limits.name, maximum)
    if plan is not None:
        message += " " + _("Upgrade to the %(plan)s plan for more.") % {"plan": plan.name}
    raise PlanLimitError(message, required_plan=plan)


# Users --------------------------------------------------------------------------------------


def user_set_language(*, user: User, language: str) -> None:
    if language not in dict(settings.LANGUAGES):
        raise ServiceError(_("That language is not available."), field="language")
    user.language = language
    user.save(update_fields=["language"])


# Memberships --------------------------------------------------------------------------------


def membership_require_role(*, workspace: Workspace, user: User, minimum: str) -> Membership:
    membership = Membership.objects.for_workspace(workspace).filter(user=user).first()
    if membership is None or not membership.has_role(minimum):
        raise NotAllowed(
            _("Only a workspace %(role)s or above can do this. Ask one of them.")
            % {"role": Role(minimum).label.lower()}
        )
    return membership


def require_in_workspace(obj: models.Model, workspace: Workspace) -> None:
    """Services never act on another workspace's object, whatever the caller looked up."""
    if obj.workspace_id != workspace.pk:
        raise NotFound(_("Not found in this workspace."))


def _lock_owners_and(workspace: Workspace, membership: Membership) -> Membership:
    """Lock the owners and the target, and re-read the target: two concurrent demotions or
    removals must not leave the workspace without an owner."""
    memberships = Membership.objects.for_workspace(workspace).select_for_update(of=("self",))
    list(memberships.filter(Q(role=Role.OWNER) | Q(pk=membership.pk)).order_by("pk"))
    return memberships.select_related("user").get(pk=membership.pk)


def _owner_count(workspace: Workspace) -> int:
    return Membership.objects.for_workspace(workspace).filter(role=Role.OWNER).count()


@transaction.atomic
def membership_change_role(
    *, workspace: Workspace, actor: User, membership: Membership, role: str
) -> None:
    require_in_workspace(membership, workspace)
    membership_require_role(workspace=workspace, user=actor, minimum=Role.OWNER)
    if role not in Role.values:
        raise ServiceError(_("Choose a role: owner, admin or member."), field="role")
    membership = _lock_owners_and(workspace, membership)
    if membership.role == Role.OWNER and role != Role.OWNER and _owner_count(workspace) == 1:
        raise ServiceError(
            _("A workspace needs at least one owner. Make someone else an owner first.")
        )
    membership.role = role
    membership.save(update_fields=["role"])
    if role == Role.MEMBER:
        _revoke_keys_created_by(workspace=workspace, user=membership.user, actor=actor)


@transaction.atomic
def membership_remove(*, workspace: Workspace, actor: User, membership: Membership) -> None:
    """Remove a member; a member removing themself is leaving. Their API keys go with them."""
    require_in_workspace(membership, workspace)
    if membership.user_id != actor.pk:
        membership_require_role(workspace=workspace, user=actor, minimum=Role.OWNER)
    membership = _lock_owners_and(workspace, membership)
    if membership.role == Role.OWNER and _owner_count(workspace) == 1:
        raise ServiceError(
            _(
                "The last owner cannot leave the workspace. "
                "Make someone else an owner first, then leave."
            )
        )
    user = membership.user
    membership.delete()
    _revoke_keys_created_by(workspace=workspace, user=user, actor=actor)
    if user.current_workspace_id == workspace.pk:
        user.current_workspace = None
        user.save(update_fields=["current_workspace"])
    emit(
        workspace=workspace,
        type="member.removed",
        data={"user": {"email": user.email}, "by": {"email": actor.email}},
    )


# Invitations --------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_create(
    *, workspace: Workspace, invited_by: User | None, email: str, role: str = Role.MEMBER
) -> Invitation:
    """Invite someone by email. Owners and admins invite; only owners invite owners.
    `invited_by=None` is an API key: it acts as an admin, so it cannot invite owners."""
    email = email.strip().lower()
    inviter_role = Role.ADMIN
    if invited_by is not None:
        inviter_role = membership_require_role(
            workspace=workspace, user=invited_by, minimum=Role.ADMIN
        ).role
    if role == Role.OWNER and inviter_role != Role.OWNER:
        raise NotAllowed(_("Only an owner can invite another owner, from the dashboard."))
    if role not in Role.values:
        raise ServiceError(_("Choose a role: owner, admin or member."), field="role")
    if Membership.objects.for_workspace(workspace).filter(user__email__iexact=email).exists():
        raise ServiceError(
            _("%(email)s is already a member of this workspace.") % {"email": email}, field="email"
        )
    token = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                workspace=workspace,
                email=email,
                role=role,
                invited_by=invited_by,
                token_hash=_token_hash(token),
                expires_at=timezone.now() + INVITATION_LIFETIME,
            )
            emit(
                workspace=workspace,
                type="member.invited",
                data={"invitation": {"id": str(invitation.pk), "email": email, "role": role}},
            )
            transaction.on_commit(lambda: _send_invitation_email(invitation, token))
    except IntegrityError:
        raise ServiceError(
            _("%(email)s already has a pending invitation. Revoke it to send a new one.")
            % {"email": email},
            field="email",
        ) from None
    return invitation


def _send_invitation_email(invitation: Invitation, token: str) -> None:
    url = settings.SITE_URL + reverse("invitation_respond", args=[token])
    inviter = invitation.invited_by.email if invitation.invited_by else "FluenzR"
    context = {"invitation": invitation, "url": url, "inviter": inviter}
    subject = _("%(inviter)s invited you to %(workspace)s on FluenzR") % {
        "inviter": inviter,
        "workspace": invitation.workspace.name,
    }
    try:
        send_mail(
            subject=subject,
            message=render_to_string("accounts/email/invitation.txt", context),
            from_email=None,
            recipient_list=[invitation.email],
        )
    except OSError:
        # The invitation exists either way; the inviter can copy the link or resend.
        logger.exception("Could not send the invitation email for %s", invitation.pk)


def invitation_for_token(*, token: str, user: User) -> Invitation | None:
    """The pending invitation behind a link, only for the person it was sent to."""
    invitation = (
        Invitation.objects.unscoped()  # the link, not a session, names the workspace
        .select_related("workspace")
        .filter(token_hash=_token_hash(token), status=InvitationStatus.PENDING)
        .first()
    )
    if invitation is None or invitation.email.lower() != user.email.lower():
        return None
    return invitation


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    # Lock it: a revoke or a second click racing this accept must not both win.
    invitation = (
        Invitation.objects.for_workspace(invitation.workspace)
        .select_for_update()
        .select_related("workspace")
        .get(pk=invitation.pk)
    )
    if invitation.status != InvitationStatus.PENDING:
        raise ServiceError(_("This invitation was already answered or revoked."))
    if invitation.is_expired:
        raise ServiceError(
            _("This invitation has expired. Ask %(workspace)s for a new one.")
            % {"workspace": invitation.workspace.name}
        )
    membership, _created = Membership.objects.for_workspace(invitation.workspace).get_or_create(
        workspace=invitation.workspace, user=user, defaults={"role": invitation.role}
    )
    invitation.status = InvitationStatus.ACCEPTED
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "responded_at"])
    user.current_workspace = invitation.workspace
    user.save(update_fields=["current_workspace"])
    emit(
        workspace=invitation.workspace,
        type="member.joined",
        data={"user": {"email": user.email}, "role": membership.role},
    )
    return membership


def invitation_decline(*, invitation: Invitation) -> None:
    invitation.status = InvitationStatus.DECLINED
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "responded_at"])


def invitation_revoke(*, workspace: Workspace, actor: User | None, invitation: Invitation) -> None:
    require_in_workspace(invitation, workspace)
    if actor is not None:
        membership_require_role(workspace=workspace, user=actor, minimum=Role.ADMIN)
    if invitation.status != InvitationStatus.PENDING:
        raise ServiceError(_("Only a pending invitation can be revoked."))
    invitation.status = InvitationStatus.REVOKED
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "responded_at"])


# API keys -----------------------------------------------------------------------------------


def api_key_hash(token: str, *, secret: str | None = None) -> str:
    # A fast keyed hash suits long random tokens: no password hasher on every request.
    return salted_hmac("fluenzr.api-key", token, secret=secret, algorithm="sha256").hexdigest()


def api_key_hashes(token: str) -> list[str]:
    """The token's hash under SECRET_KEY, then under each of SECRET_KEY_FALLBACKS, so keys
    keep working while SECRET_KEY is rotated."""
    secrets_in_use = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return [api_key_hash(token, secret=secret) for secret in secrets_in_use]


@transaction.atomic
def api_key_create(
    *, workspace: Workspace, created_by: User | None, name: str
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is never shown again."""
    if created_by is not None:
        membership_require_role(workspace=workspace, user=created_by, minimum=Role.ADMIN)
    name = name.strip()
    if not name:
        raise ServiceError(_("Give the key a name, such as “CRM sync”."), field="name")
    secret = "".join(secrets.choice(API_KEY_ALPHABET) for _ in range(API_KEY_SECRET_LENGTH))
    token = API_KEY_PREFIX + secret
    api_key = ApiKey.objects.create(
        workspace=workspace,
        name=name[:100],
        prefix=token[: len(API_KEY_PREFIX) + 4],
        last4=token[-4:],
        key_hash=api_key_hash(token),
        created_by=created_by,
    )
    emit(
        workspace=workspace,
        type="api_key.created",
        data={"api_key": {"id": str(api_key.pk), "name": api_key.name, "masked": api_key.masked}},
    )
    return api_key, token


@transaction.atomic
def api_key_revoke(*, workspace: Workspace, actor: User, api_key: ApiKey) -> None:
    require_in_workspace(api_key, workspace)
    membership_require_role(workspace=workspace, user=actor, minimum=Role.ADMIN)
    if api_key.revoked_at is None:
        _api_key_mark_revoked(workspace=workspace, api_key=api_key, actor=actor)


def _api_key_mark_revoked(*, workspace: Workspace, api_key: ApiKey, actor: User) -> None:
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    emit(
        workspace=workspace,
        type="api_key.revoked",
        data={
            "api_key": {"id": str(api_key.pk), "name": api_key.name, "masked": api_key.masked},
            "by": {"email": actor.email},
        },
    )


def _revoke_keys_created_by(*, workspace: Workspace, user: User, actor: User) -> None:
    """Someone who may no longer manage keys keeps none: their keys stop working now."""
    keys = ApiKey.objects.for_workspace(workspace).filter(created_by=user, revoked_at__isnull=True)
    for api_key in keys.select_for_update():
        _api_key_mark_revoked(workspace=workspace, api_key=api_key, actor=actor)


def api_key_record_use(*, api_key: ApiKey, token: str) -> None:
    """Record use, at most once a minute, so busy keys do not write on every request. A key
    found under a retired SECRET_KEY is re-hashed under the current one."""
    current_hash = api_key_hash(token)
    if api_key.key_hash != current_hash:
        ApiKey.objects.for_workspace(api_key.workspace).filter(pk=api_key.pk).update(
            key_hash=current_hash
        )
    now = timezone.now()
    if api_key.last_used_at and now - api_key.last_used_at < API_KEY_TOUCH_INTERVAL:
        return
    ApiKey.objects.for_workspace(api_key.workspace).filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - API_KEY_TOUCH_INTERVAL)
    ).update(last_used_at=now)


# Housekeeping -------------------------------------------------------------------------------


def invitations_expire() -> int:
    """Close pending invitations past their expiry, across every workspace."""
    now = timezone.now()
    return (
        Invitation.objects.unscoped()  # a cross-tenant sweep
        .filter(status=InvitationStatus.PENDING, expires_at__lte=now)
        .update(status=InvitationStatus.REVOKED, responded_at=now)
    )
