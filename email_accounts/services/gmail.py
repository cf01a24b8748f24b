"""Connecting Gmail by OAuth: Google's consent screen (PKCE, state), the callback, revocation.

The endpoints come from settings (Google's by default), so the tests run the real
google-auth-oauthlib against a local server that speaks Google's wire format.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables
from google.auth.exceptions import GoogleAuthError
from google.auth.transport.requests import AuthorizedSession
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from accounts.errors import ServiceError
from accounts.models import Workspace
from email_accounts.models import (
    GMAIL_PERSONAL_DAILY_MAX,
    GMAIL_WORKSPACE_DAILY_MAX,
    Mailbox,
    MailboxStatus,
    Provider,
)
from email_accounts.providers.base import OAuthTokens
from email_accounts.selectors import GMAIL_SCOPES
from email_accounts.services.mailboxes import (
    clean_mailbox_email,
    duplicate_error,
    require_room_for_one_more,
    save_new_mailbox,
)
from email_accounts.services.status import mark_connected

logger = logging.getLogger(__name__)
HTTP_TIMEOUT = 15


def gmail_configured() -> bool:
    return bool(settings.GOOGLE_OAUTH_CLIENT_ID and settings.GOOGLE_OAUTH_CLIENT_SECRET)


def gmail_redirect_uri() -> str:
    """The callback URL to register in Google Cloud: fixed by SITE_URL, never by the request's
    Host header (Google compares it character for character)."""
    return settings.SITE_URL + reverse("gmail_callback")


def _flow(redirect_uri: str, *, state: str | None = None, code_verifier: str | None = None) -> Flow:
    client_config = {
        "web": {
            "client_id": settings.GOOGLE_OAUTH_CLIENT_ID,
            "client_secret": settings.GOOGLE_OAUTH_CLIENT_SECRET,
            "auth_uri": settings.GOOGLE_AUTH_URI,
            "token_uri": settings.GOOGLE_TOKEN_URI,
            "redirect_uris": [redirect_uri],
        }
    }
    return Flow.from_client_config(
        client_config,
        scopes=list(GMAIL_SCOPES),
        redirect_uri=redirect_uri,
        state=state,
        code_verifier=code_verifier,
        autogenerate_code_verifier=True,
    )


@dataclass(frozen=True)
class PendingConsent:
    """What the callback needs to trust Google's answer; kept in the user's session."""

    state: str
    code_verifier: str = field(repr=False)
    workspace_id: str
    mailbox_id: str  # "" for a new mailbox, else the one being reconnected

    def as_session(self) -> dict[str, str]:
        return vars(self).copy()

    @classmethod
    def from_session(cls, data: Any) -> PendingConsent | None:
        try:
            return cls(**data)
        except TypeError:
            return None


def gmail_oauth_start(
    *, workspace: Workspace, redirect_uri: str, mailbox: Mailbox | None = None
) -> tuple[str, PendingConsent]:
    """Google's consent screen URL, and what to remember until the user comes back."""
    if not gmail_configured():
        raise ServiceError(
            _(
                "Gmail is not set up on this FluenzR server yet: the operator must set "
                "GOOGLE_OAUTH_CLIENT_ID and GOOGLE_OAUTH_CLIENT_SECRET (see the README, "
                "“Connecting Gmail”). Meanwhile, connect Gmail with an App Password through "
                "SMTP/IMAP."
            )
        )
    if mailbox is None:
        require_room_for_one_more(workspace)
    elif mailbox.provider != Provider.GMAIL:
        raise ServiceError(
            _("%(email)s is connected with SMTP/IMAP: change its servers or password instead.")
            % {"email": mailbox.email}
        )
    flow = _flow(redirect_uri)
    # Offline access and a consent prompt every time: Google only returns a refresh token
    # on consent, and a reconnect must get a new one.
    url, state = flow.authorization_url(
        access_type="offline",
        prompt="consent",
        login_hint=mailbox.email if mailbox else None,
    )
    pending = PendingConsent(
        state=state,
        code_verifier=flow.code_verifier,
        workspace_id=str(workspace.pk),
        mailbox_id=str(mailbox.pk) if mailbox else "",
    )
    return url, pending


def _refused(reason: str) -> ServiceError:
    return ServiceError(reason + " " + _("Nothing was connected; try “+ Gmail” again."))


def _exchange_code(flow: Flow, code: str) -> dict[str, Any]:
    try:
        return dict(flow.fetch_token(code=code))
    except Warning as changed:
        # oauthlib warns (raises) when Google granted fewer scopes than asked: the user
        # unticked a box. Keep the tokens; the dashboard says what will not work.
        token = getattr(changed, "token", None)
        if token is None:
            raise
        return dict(token)
    except (OAuth2Error, requests.RequestException, ValueError) as error:
        logger.warning("Gmail code exchange failed: %s", error.__class__.__name__)
        raise _refused(
            _("Google did not accept the sign-in (it may have taken too long).")
        ) from None


def _userinfo(tokens: OAuthTokens) -> dict[str, Any]:
    credentials = Credentials(tokens.access_token)
    try:
        response = AuthorizedSession(credentials).get(
            settings.GOOGLE_USERINFO_URI, timeout=HTTP_TIMEOUT
        )
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, GoogleAuthError, ValueError):
        raise _refused(_("Google did not tell us the mailbox's address.")) from None


def _tokens_from(token: dict[str, Any], previous: OAuthTokens | None) -> OAuthTokens:
    expires_at = token.get("expires_at")
    scope = token.get("scope") or ()
    return OAuthTokens(
        access_token=token["access_token"],
        # Google sends a refresh token with each consent; keep the old one if it did not.
        refresh_token=token.get("refresh_token") or (previous.refresh_token if previous else ""),
        expires_at=datetime.fromtimestamp(expires_at, UTC) if expires_at else None,
        scopes=tuple(scope.split() if isinstance(scope, str) else scope),
    )


@sensitive_variables()  # the tokens
def gmail_oauth_complete(
    *, workspace: Workspace, pending: PendingConsent | None, redirect_uri: str, params: dict
) -> Mailbox:
    """Google sent the user back: check `state`, exchange the code (PKCE), read the address,
    then connect the mailbox (or reconnect the one being reconnected, keeping its history)."""
    state = params.get("state", "")
    if (
        pending is None
        or pending.workspace_id != str(workspace.pk)
        or not hmac.compare_digest(pending.state.encode(), state.encode())
    ):
        raise _refused(_("This sign-in link is stale or was not started from this browser."))
    if params.get("error"):
        if params["error"] == "access_denied":
            raise ServiceError(_("You cancelled on Google's screen, so nothing was connected."))
        raise _refused(_("Google answered: %(error)s.") % {"error": params["error"][:100]})
    if not params.get("code"):
        raise _refused(_("Google's answer carried no authorisation code."))

    flow = _flow(redirect_uri, state=pending.state, code_verifier=pending.code_verifier)
    existing = (
        Mailbox.objects.for_workspace(workspace).filter(pk=pending.mailbox_id).first()
        if pending.mailbox_id
        else None
    )
    tokens = _tokens_from(_exchange_code(flow, params["code"]), existing and existing.oauth_tokens)
    if not tokens.refresh_token:
        raise _refused(_("Google gave no refresh token."))
    info = _userinfo(tokens)
    email = clean_mailbox_email(info.get("email", ""))
    hosted_domain = info.get("hd", "")
    if existing is not None and existing.email.lower() != email.lower():
        raise ServiceError(
            _(
                "You signed in to Google as %(signed_in)s, but you are reconnecting %(mailbox)s. "
                "Try again and choose %(mailbox)s on Google's screen."
            )
            % {"signed_in": email, "mailbox": existing.email}
        )
    if existing is None:  # the same address connected before: a reconnect, keeping its history
        existing = Mailbox.objects.for_workspace(workspace).filter(email__iexact=email).first()
        if existing is not None and existing.provider != Provider.GMAIL:
            raise duplicate_error(email)
    if existing is not None:
        return _reconnect(existing, tokens, hosted_domain)
    return _create(workspace, email, tokens, hosted_domain)


def _gmail_daily_max(hosted_domain: str) -> int:
    return GMAIL_WORKSPACE_DAILY_MAX if hosted_domain else GMAIL_PERSONAL_DAILY_MAX


def _create(workspace: Workspace, email: str, tokens: OAuthTokens, hosted_domain: str) -> Mailbox:
    now = timezone.now()
    daily_max = _gmail_daily_max(hosted_domain)
    mailbox = Mailbox(
        workspace=workspace,
        provider=Provider.GMAIL,
        email=email,
        status=MailboxStatus.CONNECTED,
        status_since=now,
        daily_limit=daily_max,
        daily_limit_max=daily_max,
        google_workspace_domain=hosted_domain,
        timezone=workspace.timezone,
        append_to_sent=False,  # Gmail files what it sends
        connected_at=now,
    )
    mailbox.ramp_up_started_on = mailbox.local_day(now)
    mailbox.set_oauth_tokens(tokens)
    save_new_mailbox(mailbox)
    return mailbox


@transaction.atomic
def _reconnect(mailbox: Mailbox, tokens: OAuthTokens, hosted_domain: str) -> Mailbox:
    mailbox = (
        Mailbox.objects.for_workspace(mailbox.workspace).select_for_update().get(pk=mailbox.pk)
    )
    if mailbox.provider != Provider.GMAIL:  # never OAuth tokens over SMTP settings
        raise duplicate_error(mailbox.email)
    mailbox.set_oauth_tokens(tokens)
    # A new grant: tokens refreshed by providers built before it must not overwrite it.
    mailbox.connected_at = timezone.now()
    mailbox.google_workspace_domain = hosted_domain
    mailbox.daily_limit_max = _gmail_daily_max(hosted_domain)
    mailbox.daily_limit = min(mailbox.daily_limit, mailbox.daily_limit_max)
    mark_connected(mailbox)
    mailbox.save()
    return mailbox


def gmail_revoke(*, mailbox: Mailbox) -> bool:
    """Ask Google to revoke the grant (the refresh token revokes its access tokens too).
    The credentials are forgotten whatever Google answers: a failed revoke is logged."""
    tokens = mailbox.oauth_tokens
    if tokens is None:
        return False
    try:
        response = requests.post(
            settings.GOOGLE_REVOKE_URI,
            data={"token": tokens.refresh_token or tokens.access_token},
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=HTTP_TIMEOUT,
        )
    except requests.RequestException as error:
        logger.warning("Revoking the Gmail grant of mailbox %s failed: %s", mailbox.pk, error)
        return False
    # 400 invalid_token: already revoked or expired at Google, which is what we wanted.
    return response.status_code in (200, 400)
