"""First flows in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import re

import httpx
import pytest

from accounts import services
from accounts.models import User
from accounts.selectors import memberships_of_user
from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, live_server, email: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{live_server.url}/")


def test_sign_up_lands_in_a_new_workspace(page, live_server):
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url  # signed-out visitors are sent to sign in
    page.goto(f"{live_server.url}/accounts/signup/")
    page.get_by_label("Email").fill("grace@example.test")
    page.locator("#id_password1").fill("a long and new passphrase")
    page.get_by_label("Password (again)").fill("a long and new passphrase")
    page.get_by_label("Workspace name").fill("Grace Growth")
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    assert page.locator(".workspace-switcher summary").inner_text().startswith("Grace Growth")
    user = User.objects.get(email="grace@example.test")
    assert memberships_of_user(user=user).get().workspace.name == "Grace Growth"


def test_create_an_api_key_and_use_it(page, live_server):
    user = UserFactory(email="henri@example.test")
    services.workspace_create(owner=user, name="Henri SAS", plan="pro")
    _sign_in(page, live_server, user.email)
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Key name").fill("Zapier")
    page.get_by_role("button", name="Create key").click()
    token = page.locator("#new-api-key").inner_text().strip()
    assert re.fullmatch(r"flz_sk_[A-Za-z0-9]{32,}", token)

    response = httpx.get(
        f"{live_server.url}/api/v1/workspace", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Henri SAS"
    assert int(response.headers["X-RateLimit-Remaining"]) >= 0
    bad = httpx.get(
        f"{live_server.url}/api/v1/workspace",
        headers={"Authorization": "Bearer flz_sk_" + "0" * 40},
    )
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "invalid_api_key"

    page.goto(page.url)  # the secret is shown once only
    assert page.locator("#new-api-key").count() == 0
    assert page.get_by_role("cell", name="Zapier").is_visible()


def test_switch_to_french_and_see_the_sidebar_in_french(page, live_server):
    user = UserFactory(email="ines@example.test")
    services.workspace_create(owner=user, name="Inès Conseil")
    _sign_in(page, live_server, user.email)
    sidebar = page.locator("#sidebar")
    assert sidebar.get_by_role("link", name="Campaigns").is_visible()
    page.get_by_role("button", name="FR").first.click()
    page.wait_for_load_state()
    for label in ("Tableau de bord", "Campagnes", "Comptes e-mail", "Paramètres"):
        assert sidebar.get_by_role("link", name=label).is_visible(), label
    assert page.locator("html").get_attribute("lang") == "fr"
    user.refresh_from_db()
    assert user.language == "fr"


def test_phone_width_folds_the_sidebar_into_a_menu(browser, live_server):
    user = UserFactory(email="jade@example.test")
    services.workspace_create(owner=user, name="Jade")
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        _sign_in(page, live_server, user.email)
        nav_link = page.locator("#sidebar").get_by_role("link", name="Contacts")
        assert not nav_link.is_visible() or nav_link.bounding_box()["x"] < 0
        page.get_by_role("button", name="Menu").click()
        page.wait_for_timeout(300)  # the slide-in transition
        assert nav_link.bounding_box()["x"] >= 0
        nav_link.click()
        page.wait_for_url(f"{live_server.url}/contacts/")
        assert page.get_by_role("heading", name="No contacts yet").is_visible()
    finally:
        context.close()
