"""Shared fixtures: alice owns a Pro workspace, bob is a member of it, charlie is the
outsider with a workspace of his own. Tests talk to real PostgreSQL and Redis."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.utils import translation
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Role, User, Workspace
from tests import chromium
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory
from tests.google.fixtures import _google_server, google  # noqa: F401 (fixtures)
from tests.mail.servers import Dovecot, MailServers, SmtpServer

pytest_plugins = ["tests.campaign_support"]  # its `sender_mailbox` fixture

PASSWORD = "correct horse battery"


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def pytest_sessionstart(session: pytest.Session) -> None:
    # A missing server fails the run loudly; it never turns into skipped tests.
    missing = [name for name, port in (("PostgreSQL", 5432), ("Redis", 6379)) if not _answers(port)]
    if missing:
        raise pytest.UsageError(
            f"{' and '.join(missing)} not answering on 127.0.0.1. "
            "Run `make test`, which starts them."
        )


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()  # rate-limit counters must not leak between tests
    yield


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"  # uploaded CSVs land here, not in var/media


@pytest.fixture(autouse=True)
def _english_by_default() -> Iterator[None]:
    # A request activates its user's language for the thread, as servers do per request;
    # in one test process it must not carry over into the next test.
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@dataclass
class Actor:
    user: User
    workspace: Workspace
    client: Client
    api_key: str

    @property
    def api(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.api_key}")
        return client


def _actor(user: User, workspace: Workspace) -> Actor:
    client = Client()
    client.force_login(user)
    _key, token = services.api_key_create(workspace=workspace, created_by=None, name="tests")
    return Actor(user=user, workspace=workspace, client=client, api_key=token)


@pytest.fixture
def alice(db) -> Actor:
    user = UserFactory(email="alice@example.test")
    workspace = services.workspace_create(owner=user, name="Alice Co", plan="pro")
    return _actor(user, workspace)


@pytest.fixture
def bob(alice: Actor) -> Actor:
    user = UserFactory(email="bob@example.test")
    MembershipFactory(workspace=alice.workspace, user=user, role=Role.MEMBER)
    user.current_workspace = alice.workspace
    user.save()
    return _actor(user, alice.workspace)


@pytest.fixture
def charlie(db) -> Actor:
    user = UserFactory(email="charlie@example.test")
    workspace = services.workspace_create(owner=user, name="Charlie Ltd", plan="pro")
    return _actor(user, workspace)


@pytest.fixture
def free_workspace(db) -> Workspace:
    return WorkspaceFactory(plan="free")


def invitation_path(mailoutbox: list) -> str:
    """The path of the invitation link in the last email sent."""
    link = next(line for line in mailoutbox[-1].body.splitlines() if "/invitations/" in line)
    return link.replace("http://testserver", "")


@pytest.fixture(scope="session")
def _mail_servers_session(tmp_path_factory) -> Iterator[MailServers]:
    dovecot = Dovecot(tmp_path_factory.mktemp("dovecot"))
    dovecot.start()
    smtp = SmtpServer(dovecot)
    smtp.start()
    yield MailServers(dovecot, smtp)
    smtp.stop()
    dovecot.stop()


@pytest.fixture
def mail_servers(_mail_servers_session: MailServers) -> Iterator[MailServers]:
    """Real Dovecot and SMTP servers on loopback, started once per session (tests/mail)."""
    yield _mail_servers_session
    _mail_servers_session.smtp.reset()


@pytest.fixture
def trusted_mail_servers(mail_servers: MailServers, settings) -> MailServers:
    """The mail servers with their certificate trusted (as a customer's CA store trusts their
    provider's) and short connection timeouts: loopback answers at once, or never."""
    settings.EMAIL_ACCOUNTS_EXTRA_CA_FILE = str(mail_servers.dovecot.cert)
    settings.EMAIL_ACCOUNTS_STEP_TIMEOUT = 3
    return mail_servers


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (its own browser download cannot work here)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the Django ORM calls the
    # tests make alongside it are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    if not os.path.exists(chromium.EXECUTABLE):
        raise RuntimeError(f"{chromium.EXECUTABLE} is missing: run `make test`, which installs it.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium.EXECUTABLE, headless=True, args=chromium.ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
