"""Screenshot every dashboard page at desktop and phone widths, in English and French.

    .venv/bin/python scripts/screenshots.py [path ...]

Starts the app on a throwaway embedded database, signs in a demo owner, and writes PNGs to
var/screenshots/ — to be opened and looked at before a page is called done (UI.md).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import chromium  # noqa: E402

OUT = ROOT / "var" / "screenshots"
PAGES = [
    "/accounts/login/",
    "/accounts/signup/",
    "/",
    "/campaigns/",
    "/settings/",
    "/settings/members/",
    "/settings/api-keys/",
    "/settings/plan/",
    "/accounts/email/",
    "/accounts/2fa/",
]
VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}
EMAIL, PASSWORD = "demo@example.test", "a demo passphrase"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(paths: list[str]) -> None:
    var_dir = tempfile.mkdtemp(prefix="fluenzr-shots-")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DEBUG="1", VAR_DIR=var_dir, DJANGO_SETTINGS_MODULE="fluenzr.settings")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)  # noqa: S603
    subprocess.run(  # noqa: S603
        [
            *manage,
            "bootstrap_workspace",
            "--email",
            EMAIL,
            "--password",
            PASSWORD,
            "--workspace",
            "Acme Growth",
            "--plan",
            "pro",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*manage, "runserver", f"127.0.0.1:{port}", "--noreload"], env=env)  # noqa: S603
    try:
        for _ in range(100):
            try:
                httpx.get(base + "/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium.EXECUTABLE, args=chromium.ARGS
            )
            for language in ("en", "fr"):
                for label, (width, height) in VIEWPORTS.items():
                    context = browser.new_context(
                        viewport={"width": width, "height": height}, locale=language
                    )
                    page = context.new_page()
                    for path in paths or PAGES:
                        signed_in = not path.startswith(("/accounts/login", "/accounts/signup"))
                        if signed_in and "sessionid" not in str(context.cookies()):
                            page.goto(base + "/accounts/login/")
                            page.fill("#id_login", EMAIL)
                            page.fill("#id_password", PASSWORD)
                            page.locator("form button[type=submit]").last.click()
                            page.wait_for_load_state()
                            csrf = next(
                                c["value"] for c in context.cookies() if c["name"] == "csrftoken"
                            )
                            page.request.post(
                                base + "/language/",
                                form={"language": language, "csrfmiddlewaretoken": csrf},
                            )
                        page.goto(base + path)
                        name = path.strip("/").replace("/", "_") or "dashboard"
                        page.screenshot(path=OUT / f"{name}-{label}-{language}.png", full_page=True)
                    context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
