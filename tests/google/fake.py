"""A local HTTP server that speaks Google's wire format, for the real `google-auth`,
`google-auth-oauthlib` and `google-api-python-client` to talk to in tests.

It serves Google's OAuth 2.0 consent screen, token and revoke endpoints, OpenID userinfo and
the parts of the Gmail API v1 FluenzR uses, with Google's JSON bodies and error shapes. It is
stricter than Google where FluenzR must be careful: it requires PKCE (S256), `state`,
`access_type=offline` and `prompt=consent`.

Plain http on 127.0.0.1: the tests set OAUTHLIB_INSECURE_TRANSPORT=1 (tests/google/fixtures.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.utils import getaddresses, make_msgid
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from tests.google.mailbox import SYSTEM_LABELS, Mailbox, StoredMessage, b64url, b64url_decode
from tests.net import free_port

GMAIL = "https://www.googleapis.com/auth/gmail."
SCOPE_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
SCOPE_PROFILE = "https://www.googleapis.com/auth/userinfo.profile"
# Non-sensitive scopes: Google grants them without a box the user can untick.
BASIC_SCOPES = ("openid", SCOPE_EMAIL, SCOPE_PROFILE)
_SHORT_SCOPES = {"email": SCOPE_EMAIL, "profile": SCOPE_PROFILE}
_DISCOVERY = json.loads(
    (resources.files("googleapiclient") / "discovery_cache/documents/gmail.v1.json").read_text()
)
KNOWN_SCOPES = {*BASIC_SCOPES, *_DISCOVERY["auth"]["oauth2"]["scopes"]}


def _method_scopes(resource: dict) -> dict[str, list[str]]:
    found = {m["id"]: m.get("scopes", []) for m in resource.get("methods", {}).values()}
    for child in resource.get("resources", {}).values():
        found |= _method_scopes(child)
    return found


METHOD_SCOPES = _method_scopes(_DISCOVERY)  # "gmail.users.messages.send" -> accepted scopes


class Recorded(NamedTuple):
    method: str
    path: str
    query: dict[str, list[str]]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    after: list[Callable[[], None]] = field(default_factory=list)  # run outside the lock

    def arg(self, name: str, default: str = "") -> str:
        return self.query.get(name, [default])[0]

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(payload, indent=2).encode(), headers=headers or {})


def gmail_error(code: int, message: str, reason: str, status: str, **extra: str) -> Response:
    error = {"message": message, "domain": "global", "reason": reason, **extra}
    body = {"error": {"code": code, "message": message, "errors": [error], "status": status}}
    return json_response(code, body)


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response(status, {"error": error, "error_description": description})


def _redirect(uri: str, params: dict[str, str]) -> Response:
    location = f"{uri}{'&' if '?' in uri else '?'}{urlencode(params)}"
    return Response(302, b"", "text/html; charset=UTF-8", {"Location": location})


def _error_page(status: int, error: str, detail: str) -> Response:
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Error {status}: {escape(error)}</title></head><body>"
        f"<h1>Access blocked: This app\u2019s request is invalid</h1>"
        f"<p>Error {status}: {escape(error)}</p><p>{escape(detail)}</p></body></html>"
    )
    return Response(status, page.encode(), "text/html; charset=UTF-8")


NOT_FOUND = ("Requested entity was not found.", "notFound", "NOT_FOUND")
UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)


@dataclass
class Client:
    client_id: str
    secret: str
    redirect_uris: list[str]

    def allows(self, uri: str) -> bool:
        # Exact match, except that loopback redirect URIs may use any port (as Google allows
        # for local apps): Django's live_server picks a free one.
        def key(value: str) -> tuple[str, str, str]:
            parts = urlsplit(value)
            host = parts.hostname or ""
            loopback = host in ("127.0.0.1", "localhost", "::1")
            where = host if loopback else parts.netloc
            return parts.scheme, where, parts.path + (f"?{parts.query}" if parts.query else "")

        return uri in self.redirect_uris or key(uri) in {key(u) for u in self.redirect_uris}


@dataclass
class Grant:
    """What one consent (or one `authorize` call) gave one client."""

    email: str
    client_id: str
    scopes: list[str]
    refresh_token: str
    access_tokens: list[str] = field(default_factory=list)
    revoked: bool = False
    refresh_expired: bool = False


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    response: Response | None  # None: handle the request, then cut the connection
    times: int


class FakeGoogle:
    def __init__(self) -> None:
        self.port = free_port()
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Response]]] = []
        gmail = "/gmail/v1/users/(?P<user>[^/]+)"
        for method, path, handler in (
            ("GET", "/o/oauth2/v2/auth", self._consent),
            ("POST", "/o/oauth2/approve", self._approve),
            ("POST", "/token", self._token),
            ("POST", "/revoke", self._revoke_endpoint),
            ("GET", "/v1/userinfo", self._userinfo),
            ("GET", f"{gmail}/profile", self._gmail("users.getProfile", self._profile)),
            ("POST", f"{gmail}/messages/send", self._gmail("users.messages.send", self._send)),
            ("GET", f"{gmail}/messages", self._gmail("users.messages.list", self._list)),
            (
                "GET",
                f"{gmail}/messages/(?P<id>[^/]+)",
                self._gmail("users.messages.get", self._get),
            ),
            (
                "POST",
                f"{gmail}/messages/(?P<id>[^/]+)/modify",
                self._gmail("users.messages.modify", self._modify),
            ),
            ("GET", f"{gmail}/history", self._gmail("users.history.list", self._history)),
            ("GET", f"{gmail}/labels", self._gmail("users.labels.list", self._labels)),
        ):
            self._routes.append((method, re.compile(path), handler))
        self.reset()

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.fake = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.clients: dict[str, Client] = {}
            self.accounts: dict[str, Mailbox] = {}
            self.default_login = ""
            self.grants: list[Grant] = []
            self._codes: dict[str, dict[str, Any]] = {}
            self._expired_access: set[str] = set()
            self._faults: list[_Fault] = []
            self.requests: list[Recorded] = []
            self.revoked: list[str] = []
            self.history_floor = 0  # history.list answers 404 for an older startHistoryId
            # Google may return fewer items than maxResults: a small cap makes tests page.
            self.page_size_cap = 500
            # (host, port, username, password, ssl_context): sent mail also leaves by SMTP.
            self.relay: tuple[str, int, str, str, ssl.SSLContext] | None = None
            self.relay_errors: list[str] = []

    # ------------------------------------------------------------------ set-up and inspection

    def register_client(self, client_id: str, secret: str, redirect_uris: list[str]) -> None:
        with self._lock:
            self.clients[client_id] = Client(client_id, secret, list(redirect_uris))

    def add_account(self, email: str, hd: str | None = None) -> Mailbox:
        """A Google account; `hd` is its Workspace domain (personal accounts have none)."""
        with self._lock:
            account = self.accounts.setdefault(email.lower(), Mailbox(email.lower(), hd))
            self.default_login = self.default_login or account.email
            return account

    def authorize(self, email: str, scopes: list[str], client_id: str = "") -> dict[str, Any]:
        """Tokens as if `email` had gone through the consent screen: the token endpoint's JSON."""
        with self._lock:
            client_id = client_id or next(iter(self.clients))
            grant = Grant(email.lower(), client_id, list(scopes), f"1//{secrets.token_urlsafe(40)}")
            self.grants.append(grant)
            return self._tokens(grant, with_refresh=True)

    def deliver(
        self,
        email: str,
        raw: bytes,
        labels: tuple[str, ...] = ("INBOX", "UNREAD"),
        thread_id: str | None = None,
        received_at: datetime | None = None,
    ) -> StoredMessage:
        """An inbound message arrives in `email`'s mailbox (a new history record)."""
        internal_date = int(received_at.timestamp() * 1000) if received_at else None
        with self._lock:
            return self.accounts[email.lower()].add(raw, list(labels), thread_id, internal_date)

    def message(self, email: str, message_id: str) -> StoredMessage:
        with self._lock:
            return self.accounts[email.lower()].messages[message_id]

    def expire_access_tokens(self) -> None:
        """Every access token issued so far now answers 401, as after an hour."""
        with self._lock:
            self._expired_access.update(t for g in self.grants for t in g.access_tokens)

    def expire_refresh_token(self, email: str) -> None:
        with self._lock:
            for grant in self.grants:
                grant.refresh_expired |= grant.email == email.lower()

    def revoke(self, email: str) -> None:
        """The user removed the app's access in their Google account."""
        with self._lock:
            for grant in self.grants:
                grant.revoked |= grant.email == email.lower()

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        json_body: Any,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` matching requests get this answer instead of being handled."""
        response = json_response(status, json_body, headers)
        with self._lock:
            self._faults.append(_Fault(method, re.compile(path_regex), response, times))

    def drop_after_handling(self, method: str, path_regex: str, times: int = 1) -> None:
        """Handle the next matching requests, then close the connection without answering:
        the client cannot know whether it worked (a send may have left)."""
        with self._lock:
            self._faults.append(_Fault(method, re.compile(path_regex), None, times))

    def count(self, method: str, path_regex: str) -> int:
        with self._lock:
            return sum(
                1 for r in self.requests if r.method == method and re.search(path_regex, r.path)
            )

    # ------------------------------------------------------------------ dispatch

    def handle(self, request: Request) -> Response | None:
        with self._lock:
            self.requests.append(Recorded(request.method, request.path, request.query))
            fault = next(
                (
                    f
                    for f in self._faults
                    if f.times > 0 and f.method == request.method and f.pattern.search(request.path)
                ),
                None,
            )
            if fault is not None:
                fault.times -= 1
                if fault.response is not None:
                    return fault.response
            response = self._route(request)
        for step in request.after:
            step()
        return None if fault is not None else response

    def _route(self, request: Request) -> Response:
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                return handler(request, **match.groupdict())
        return json_response(404, {"error": {"code": 404, "message": "Not Found"}})

    # ------------------------------------------------------------------ OAuth: consent

    def _check_authorization(self, params: dict[str, str]) -> Response | None:
        """Google's checks of an authorization request, in Google's order."""
        for name in ("client_id", "redirect_uri"):
            if not params.get(name):
                return _error_page(400, "invalid_request", f"Missing required parameter: {name}")
        client = self.clients.get(params["client_id"])
        if client is None:
            return _error_page(401, "invalid_client", "The OAuth client was not found.")
        if not client.allows(params["redirect_uri"]):
            return _error_page(
                400,
                "redirect_uri_mismatch",
                "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 "
                f"policy. Request details: redirect_uri={params['redirect_uri']}",
            )
        if params.get("response_type") != "code":
            return _error_page(
                400,
                "unsupported_response_type",
                f"Invalid response_type: {params.get('response_type')}",
            )
        scopes = _scopes(params.get("scope", ""))
        if not scopes:
            return _error_page(400, "invalid_request", "Missing required parameter: scope")
        invalid = [s for s in scopes if s not in KNOWN_SCOPES]
        if invalid:
            return _error_page(
                400, "invalid_scope", f"Some requested scopes were invalid. {{invalid={invalid}}}"
            )
        # Stricter than Google: FluenzR must always send these.
        for name, expected in (
            ("state", None),
            ("code_challenge", None),
            ("code_challenge_method", "S256"),
            ("access_type", "offline"),
            ("prompt", "consent"),
        ):
            value = params.get(name, "")
            if not value or (expected and value != expected):
                return _error_page(
                    400, "invalid_request", f"Invalid parameter value for {name}: {value!r}"
                )
        return None

    def _consent(self, request: Request) -> Response:
        params = {k: v[0] for k, v in request.query.items()}
        return self._check_authorization(params) or self._consent_page(params, "")

    def _consent_page(self, params: dict[str, str], problem: str) -> Response:
        login = params.get("login_hint") or self.default_login
        boxes = "".join(
            f'<li><label><input type="checkbox" name="scope" value="{escape(s)}" checked> '
            f"{escape(s)}</label></li>"
            for s in _scopes(params["scope"])
        )
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in - Google Accounts</title></head>
<body><h1>Sign in with Google</h1>
<form method="post" action="/o/oauth2/approve">
<input type="hidden" name="request" value="{escape(urlencode(params))}">
{f'<p role="alert">{escape(problem)}</p>' if problem else ""}
<label>Email or phone <input type="email" name="email" value="{escape(login)}"></label>
<fieldset><legend>Select what the app can access</legend><ul>{boxes}</ul></fieldset>
<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
<button type="submit" name="action" value="approve">Continue</button>
</form></body></html>"""
        return Response(200, page.encode(), "text/html; charset=UTF-8")

    def _approve(self, request: Request) -> Response:
        form = request.form()
        params = {k: v[0] for k, v in parse_qs(form.get("request", [""])[0]).items()}
        problem = self._check_authorization(params)
        if problem is not None:
            return problem
        if form.get("action", ["approve"])[0] == "cancel":
            return _redirect(
                params["redirect_uri"], {"error": "access_denied", "state": params["state"]}
            )
        account = self.accounts.get(form.get("email", [""])[0].strip().lower())
        if account is None:
            return self._consent_page(params, "Couldn\u2019t find your Google Account")
        ticked = {_SHORT_SCOPES.get(s, s) for s in form.get("scope", [])}
        granted = [s for s in _scopes(params["scope"]) if s in ticked or s in BASIC_SCOPES]
        code = f"4/0A{secrets.token_urlsafe(30)}"
        self._codes[code] = {"email": account.email, "scopes": granted, **params}
        answer = {"state": params["state"], "code": code, "scope": " ".join(granted)}
        answer |= {"authuser": "0", **({"hd": account.hd} if account.hd else {})}
        return _redirect(params["redirect_uri"], answer | {"prompt": "consent"})

    # ------------------------------------------------------------------ OAuth: tokens

    def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in request.form().items()}
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        basic = request.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        if not client_id:
            return _oauth_error(
                400, "invalid_request", "Could not determine client ID from request."
            )
        client = self.clients.get(client_id)
        if client is None:
            return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if secret != client.secret:
            return _oauth_error(401, "invalid_client", "Unauthorized")
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            return self._exchange_code(client, form)
        if grant_type == "refresh_token":
            return self._refresh(client, form)
        return _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _exchange_code(self, client: Client, form: dict[str, str]) -> Response:
        if not form.get("code"):
            return _oauth_error(400, "invalid_request", "Missing required parameter: code")
        issued = self._codes.pop(form["code"], None)  # single use, even when the exchange fails
        if issued is None or issued["client_id"] != client.client_id:
            return _oauth_error(400, "invalid_grant", "Bad Request")
        if form.get("redirect_uri") != issued["redirect_uri"]:
            return _oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        verifier = form.get("code_verifier", "")
        if not verifier:
            return _oauth_error(400, "invalid_grant", "Missing code verifier.")
        challenge = b64url(hashlib.sha256(verifier.encode()).digest()).rstrip("=")
        if challenge != issued["code_challenge"]:
            return _oauth_error(400, "invalid_grant", "Invalid code verifier.")
        refresh = f"1//{secrets.token_urlsafe(40)}"
        grant = Grant(issued["email"], client.client_id, issued["scopes"], refresh)
        self.grants.append(grant)
        return json_response(200, self._tokens(grant, with_refresh=True))

    def _refresh(self, client: Client, form: dict[str, str]) -> Response:
        grant = next((g for g in self.grants if g.refresh_token == form.get("refresh_token")), None)
        if grant is None or grant.client_id != client.client_id:
            return _oauth_error(400, "invalid_grant", "Bad Request")
        if grant.revoked or grant.refresh_expired:
            return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        asked = _scopes(form.get("scope", ""))
        if any(scope not in grant.scopes for scope in asked):
            return _oauth_error(400, "invalid_scope", "Bad Request")
        return json_response(200, self._tokens(grant, with_refresh=False, scopes=asked))

    def _tokens(self, grant: Grant, *, with_refresh: bool, scopes: Sequence[str] = ()) -> dict:
        access = f"ya29.{secrets.token_urlsafe(60)}"
        grant.access_tokens.append(access)
        answer: dict[str, Any] = {"access_token": access, "expires_in": 3599}
        if with_refresh:  # Google never sends a new refresh token on refresh
            answer["refresh_token"] = grant.refresh_token
        answer |= {"scope": " ".join(scopes or grant.scopes), "token_type": "Bearer"}
        if "openid" in grant.scopes:
            answer["id_token"] = self._id_token(grant)
        return answer

    def _id_token(self, grant: Grant) -> str:
        account = self.accounts.get(grant.email) or Mailbox(grant.email, None)
        now = int(time.time())
        claims = {
            "iss": "https://accounts.google.com",
            "azp": grant.client_id,
            "aud": grant.client_id,
            "sub": account.sub,
            **({"hd": account.hd} if account.hd else {}),
            "email": account.email,
            "email_verified": True,
            "iat": now,
            "exp": now + 3599,
        }
        header = {"alg": "RS256", "kid": "fake-google", "typ": "JWT"}
        parts = [json.dumps(header).encode(), json.dumps(claims).encode(), b"not-signed"]
        return ".".join(b64url(p).rstrip("=") for p in parts)

    def _revoke_endpoint(self, request: Request) -> Response:
        token = request.arg("token") or request.form().get("token", [""])[0]
        grant = self._grant_of(token, refresh_too=True)
        if grant is None or grant.revoked:
            return _oauth_error(400, "invalid_token", "Token expired or revoked")
        grant.revoked = True
        self.revoked.append(token)
        return json_response(200, {})

    def _grant_of(self, token: str, *, refresh_too: bool = False) -> Grant | None:
        for grant in self.grants:
            if token in grant.access_tokens or (refresh_too and token == grant.refresh_token):
                return grant
        return None

    def _bearer(self, request: Request) -> Grant | None:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        grant = self._grant_of(token) if token else None
        if grant is None or grant.revoked or token in self._expired_access:
            return None
        return grant

    def _userinfo(self, request: Request) -> Response:
        grant = self._bearer(request)
        if grant is None or not {"openid", SCOPE_EMAIL} & set(grant.scopes):
            response = _oauth_error(401, "invalid_request", "Invalid Credentials")
            response.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"'
            return response
        account = self.accounts[grant.email]
        info: dict[str, Any] = {"sub": account.sub, "email": account.email, "email_verified": True}
        return json_response(200, info | ({"hd": account.hd} if account.hd else {}))

    # ------------------------------------------------------------------ Gmail API

    def _gmail(self, method_id: str, handler: Callable[..., Response]) -> Callable[..., Response]:
        accepted = set(METHOD_SCOPES[f"gmail.{method_id}"])

        def authenticated(request: Request, user: str, **groups: str) -> Response:
            grant = self._bearer(request)
            if grant is None:
                response = gmail_error(
                    401, UNAUTHENTICATED, "authError", "UNAUTHENTICATED",
                    location="Authorization", locationType="header",
                )  # fmt: skip
                response.headers["WWW-Authenticate"] = (
                    'Bearer realm="https://accounts.google.com/", error="invalid_token"'
                )
                return response
            if not accepted & set(grant.scopes):
                return gmail_error(
                    403, "Request had insufficient authentication scopes.",
                    "insufficientPermissions", "PERMISSION_DENIED",
                )  # fmt: skip
            if unquote(user).lower() not in ("me", grant.email):
                return gmail_error(403, f"Delegation denied for {grant.email}", "forbidden",
                                   "PERMISSION_DENIED")  # fmt: skip
            return handler(request, self.accounts[grant.email], **groups)

        return authenticated

    def _profile(self, request: Request, account: Mailbox) -> Response:
        return json_response(
            200,
            {
                "emailAddress": account.email,
                "messagesTotal": len(account.messages),
                "threadsTotal": len({m.thread_id for m in account.messages.values()}),
                "historyId": str(account.history_id),
            },
        )

    def _send(self, request: Request, account: Mailbox) -> Response:
        body = request.json()
        try:
            raw = b64url_decode(body["raw"])
        except (KeyError, ValueError):
            return gmail_error(
                400, "'raw' RFC822 payload message string or uploading message via /upload/* "
                "URL required", "invalidArgument", "INVALID_ARGUMENT",
            )  # fmt: skip
        stored = StoredMessage("", "", raw, [], 0)
        recipients = []
        for name in ("To", "Cc", "Bcc"):
            for _display, address in getaddresses(stored.parsed.get_all(name, [])):
                local, _, domain = address.partition("@")
                if not local or "." not in domain:
                    return gmail_error(400, f"Invalid {name} header", "invalidArgument",
                                       "INVALID_ARGUMENT")  # fmt: skip
                recipients.append(address)
        if not recipients:
            return gmail_error(400, "Recipient address required", "invalidArgument",
                               "INVALID_ARGUMENT")  # fmt: skip
        if not stored.parsed.get("Message-ID"):  # Gmail adds its own when there is none
            raw = f"Message-ID: {make_msgid(domain='mail.gmail.com')}\r\n".encode() + raw
        thread_id = body.get("threadId")
        thread_id = (
            thread_id if any(m.thread_id == thread_id for m in account.messages.values()) else None
        )
        # Without a valid threadId, a send starts its own thread.
        sent = account.add(raw, ["SENT"], thread_id, follow_references=False)
        for address in recipients:
            if address.lower() in self.accounts:  # Google to Google: straight into the inbox
                self.accounts[address.lower()].add(raw, ["INBOX", "UNREAD"])
        if self.relay is not None:
            relay = self.relay
            request.after.append(lambda: self._relay(relay, account.email, recipients, raw))
        return json_response(200, {"id": sent.id, "threadId": sent.thread_id, "labelIds": ["SENT"]})

    def _relay(self, relay: tuple, sender: str, recipients: list[str], raw: bytes) -> None:
        host, port, username, password, context = relay
        # Bcc is an envelope matter: it never travels in the headers.
        head, sep, rest = (
            raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
        )
        head = re.sub(rb"(?im)^bcc:.*(?:\r?\n[ \t].*)*(?:\r?\n|$)", b"", head)
        try:
            with smtplib.SMTP(host, port, timeout=10) as smtp:
                smtp.starttls(context=context)
                smtp.login(username, password)
                smtp.sendmail(sender, recipients, head + sep + rest)
        except (OSError, smtplib.SMTPException) as error:
            self.relay_errors.append(repr(error))

    def _list(self, request: Request, account: Mailbox) -> Response:
        found = account.search(
            request.arg("q"),
            request.query.get("labelIds", []),
            request.arg("includeSpamTrash") == "true",
        )
        page, token = _page(found, request, self.page_size_cap)
        answer: dict[str, Any] = {}
        if page:
            answer["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
        if token:
            answer["nextPageToken"] = token
        return json_response(200, answer | {"resultSizeEstimate": len(page)})

    def _get(self, request: Request, account: Mailbox, id: str) -> Response:
        message = account.messages.get(id)
        if message is None:
            return gmail_error(404, *NOT_FOUND)
        fmt = request.arg("format", "full")
        if fmt not in ("full", "metadata", "minimal", "raw"):
            return gmail_error(400, f"Invalid value at 'format' ({fmt})", "invalidArgument",
                               "INVALID_ARGUMENT")  # fmt: skip
        return json_response(200, message.render(fmt, request.query.get("metadataHeaders")))

    def _modify(self, request: Request, account: Mailbox, id: str) -> Response:
        message = account.messages.get(id)
        if message is None:
            return gmail_error(404, *NOT_FOUND)
        body = request.json()
        add, remove = body.get("addLabelIds", []), body.get("removeLabelIds", [])
        for label in add + remove:
            if not account.knows_label(label):
                return gmail_error(400, f"Invalid label: {label}", "invalidArgument",
                                   "INVALID_ARGUMENT")  # fmt: skip
        account.modify(message, add, remove)
        return json_response(200, message.render("minimal"))

    def _history(self, request: Request, account: Mailbox) -> Response:
        start = request.arg("startHistoryId")
        if not start.isdigit():
            return gmail_error(400, "Invalid startHistoryId", "invalidArgument", "INVALID_ARGUMENT")
        if int(start) < self.history_floor:
            return gmail_error(404, *NOT_FOUND)
        kinds = [
            {"messageAdded": "messagesAdded", "messageDeleted": "messagesDeleted",
             "labelAdded": "labelsAdded", "labelRemoved": "labelsRemoved"}[kind]
            for kind in request.query.get("historyTypes", [])
        ] or ["messagesAdded", "messagesDeleted", "labelsAdded", "labelsRemoved"]  # fmt: skip
        records = account.history_since(int(start), kinds, request.arg("labelId") or None)
        page, token = _page(records, request, self.page_size_cap)
        answer: dict[str, Any] = {"history": page} if page else {}
        if token:
            answer["nextPageToken"] = token
        return json_response(200, answer | {"historyId": str(account.history_id)})

    def _labels(self, request: Request, account: Mailbox) -> Response:
        labels = [{"id": label, "name": label, "type": "system"} for label in SYSTEM_LABELS]
        labels += [
            {"id": i, "name": name, "messageListVisibility": "show",
             "labelListVisibility": "labelShow", "type": "user"}
            for i, name in account.user_labels.items()
        ]  # fmt: skip
        return json_response(200, {"labels": labels})


def _scopes(value: str) -> list[str]:
    return list(dict.fromkeys(_SHORT_SCOPES.get(s, s) for s in value.split()))


def _page(items: list, request: Request, cap: int) -> tuple[list, str]:
    start = int(request.arg("pageToken") or 0)
    size = min(int(request.arg("maxResults") or 100), 500, cap)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else "")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeGoogle


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Google's front ends
    # Headers and body leave in separate writes: without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK stall every answer for 40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=self.command,
            path=unquote(url.path),
            query=parse_qs(url.query, keep_blank_values=True),
            headers=self.headers,
            body=self.rfile.read(length) if length else b"",
        )
        response = self.server.fake.handle(request)
        if response is None:
            self.close_connection = True  # no answer at all: the client sees the line drop
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: pytest shows failures, not every request
