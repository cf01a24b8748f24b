"""pytest fixtures for the fake Google server (tests/google/fake.py), imported by
tests/conftest.py."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.google.fake import FakeGoogle

# requests-oauthlib refuses a plain-http token endpoint; production talks https to Google.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

CLIENT_ID = "fluenzr-test-client"
CLIENT_SECRET = "fluenzr-test-secret"
# The OAuth callback path the dashboard registers with Google; loopback hosts match any port
# (Django's live_server), as Google allows for local redirect URIs.
CALLBACK_PATH = "/email-accounts/gmail/callback/"
REDIRECT_URIS = [
    f"http://{host}{CALLBACK_PATH}" for host in ("testserver", "127.0.0.1", "localhost")
]


@pytest.fixture(scope="session")
def _google_server() -> Iterator[FakeGoogle]:
    fake = FakeGoogle()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def google(_google_server: FakeGoogle, settings) -> FakeGoogle:
    """Google's OAuth and Gmail API on loopback, empty for each test, with FluenzR's OAuth
    client registered and the GOOGLE_* settings pointing at it."""
    fake = _google_server
    fake.reset()
    fake.register_client(CLIENT_ID, CLIENT_SECRET, REDIRECT_URIS)
    base = fake.base_url
    settings.GOOGLE_OAUTH_CLIENT_ID = CLIENT_ID
    settings.GOOGLE_OAUTH_CLIENT_SECRET = CLIENT_SECRET
    settings.GOOGLE_AUTH_URI = f"{base}/o/oauth2/v2/auth"
    settings.GOOGLE_TOKEN_URI = f"{base}/token"
    settings.GOOGLE_REVOKE_URI = f"{base}/revoke"
    settings.GOOGLE_USERINFO_URI = f"{base}/v1/userinfo"
    settings.GOOGLE_GMAIL_API_ENDPOINT = f"{base}/"
    return fake
