"""Configuration and the embedded default, run as separate processes like an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.net import free_port

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def _env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "DJANGO_SETTINGS_MODULE",
            "DEBUG",
            "SECRET_KEY",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
        and not key.startswith("PYTEST")
    }
    env["DJANGO_SETTINGS_MODULE"] = "fluenzr.settings"
    env.update(overrides)
    return env


def _production_env(**overrides: str) -> dict[str, str]:
    production = {
        "DEBUG": "0",
        "SECRET_KEY": "prod-" + "k" * 60 + "-not-a-dev-key-9f8e7d6c",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "app.fluenzr.example",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/fluenzr",
        "REDIS_URL": "redis://127.0.0.1:6379/15",
    }
    return _env(**(production | overrides))


def _manage(*args: str, env: dict[str, str], timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_deploy_check_passes_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("variable", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS"])
def test_production_refuses_to_start_without_its_secrets(variable):
    env = _production_env()
    del env[variable]
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert f"{variable} is not set" in result.stderr


@pytest.mark.parametrize("keys", ["not-a-fernet-key", " , "])
def test_invalid_encryption_keys_fail_the_checks(keys):
    result = _manage("check", env=_production_env(FIELD_ENCRYPTION_KEYS=keys))
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS" in result.stderr


def _get_once_up(server: subprocess.Popen, url: str, **kwargs: object) -> httpx.Response:
    """GET `url` as soon as the freshly started `server` answers (a minute at most)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return httpx.get(url, timeout=5, **kwargs)
        except httpx.TransportError:
            assert server.poll() is None, server.stdout.read().decode()
            assert time.monotonic() < deadline, f"the server behind {url} did not start"
            time.sleep(0.3)


def test_embedded_default_migrates_and_serves_on_sqlite_with_the_file_broker(tmp_path):
    env = _env(DEBUG="1", VAR_DIR=str(tmp_path))
    migrated = _manage("migrate", "--noinput", env=env, timeout=300)
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "fluenzr.sqlite3").exists()
    port = free_port()
    server = subprocess.Popen(
        [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        signup = _get_once_up(server, f"{base}/accounts/signup/")
        assert signup.status_code == 200
        assert 'name="email"' in signup.text
        health = httpx.get(f"{base}/healthz", timeout=10)
        assert health.status_code == 200, health.text
        assert health.json()["checks"] == {"database": "ok", "broker": "ok"}
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert (tmp_path / "celery" / "queue").is_dir()  # the file-system broker's folder


EXPIRED_INVITATION = """
from datetime import timedelta
from django.utils import timezone
from accounts import services
from accounts.models import Invitation, User
from accounts.tasks import invitations_expire
user = User.objects.create_user("owner@example.test", "pw-long-enough")
workspace = services.workspace_create(owner=user, name="Embedded")
services.invitation_create(workspace=workspace, invited_by=user, email="x@example.test")
Invitation.objects.for_workspace(workspace).update(expires_at=timezone.now() - timedelta(days=1))
invitations_expire.delay()
"""
INVITATION_STATUS = (
    "from accounts.models import Invitation; print(Invitation.objects.unscoped().get().status)"
)


def test_embedded_default_runs_celery_tasks_through_the_file_broker(tmp_path):
    env = _env(DEBUG="1", VAR_DIR=str(tmp_path))
    assert _manage("migrate", "--noinput", env=env, timeout=300).returncode == 0
    queued = _manage("shell", "-c", EXPIRED_INVITATION, env=env)
    assert queued.returncode == 0, queued.stderr
    assert list((tmp_path / "celery" / "queue").iterdir())  # the nudge waits on disk
    worker = subprocess.Popen(
        [PYTHON, "-m", "celery", "-A", "fluenzr", "worker", "--pool=solo", "--queues=scheduler"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        status = ""
        while status != "revoked" and time.monotonic() < deadline:
            time.sleep(1)
            status = _manage("shell", "-c", INVITATION_STATUS, env=env).stdout.strip().split()[-1]
            assert worker.poll() is None, worker.stdout.read().decode()
        assert status == "revoked"  # the worker ran accounts.invitations_expire
    finally:
        worker.terminate()
        worker.wait(timeout=20)


def test_production_serves_pages_and_hashed_static_files_with_gunicorn(tmp_path):
    env = _production_env(VAR_DIR=str(tmp_path))
    collected = _manage("collectstatic", "--noinput", env=env, timeout=300)
    assert collected.returncode == 0, collected.stderr
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "fluenzr.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    # As behind the TLS-terminating proxy: HTTPS, and the public host name.
    headers = {"Host": "app.fluenzr.example", "X-Forwarded-Proto": "https"}
    base = f"http://127.0.0.1:{port}"
    try:
        login = _get_once_up(server, f"{base}/accounts/login/", headers=headers)
        assert login.status_code == 200
        assert "Strict-Transport-Security" in login.headers
        assert "Content-Security-Policy" in login.headers
        css = next(part.split('"')[1] for part in login.text.split("href=")[1:] if ".css" in part)
        assert css.startswith("/static/css/app.") and css != "/static/css/app.css"  # hashed
        asset = httpx.get(base + css, headers=headers, timeout=5)
        assert asset.status_code == 200
        assert "max-age=315360000" in asset.headers["Cache-Control"]  # WhiteNoise, immutable
        plain = httpx.get(f"{base}/accounts/login/", headers={"Host": "app.fluenzr.example"})
        assert plain.status_code == 301  # plain HTTP goes to HTTPS
        assert plain.headers["Location"].startswith("https://")
    finally:
        server.terminate()
        server.wait(timeout=10)
