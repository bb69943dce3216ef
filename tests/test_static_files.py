"""Static files with DEBUG off, served by the app itself (WhiteNoise) as the demo and production run it: a real
`manage.py runserver` (the demo's server) and gunicorn, as subprocesses against the test database, and the admin's
upload-and-progress page styled in headless Chromium."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.urls import reverse
from playwright.sync_api import Browser, Response

from ingestion.services import collection_get_or_create
from tests.conftest import REPO_ROOT

ADMIN_PASSWORD = "a-long-admin-password"
# What the pages load: the admin's stylesheet and script, Swagger UI's and Redoc's files from the sidecar package.
ASSETS = {
    "admin/css/base.css": "text/css",
    "admin/js/core.js": "text/javascript",
    "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css": "text/css",
    "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js": "text/javascript",
    "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js": "text/javascript",
}
SERVERS = {
    # As `manage.py demo` serves the web app: runserver, no reloader, DEBUG off.
    "runserver": lambda port: ["manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
    "gunicorn": lambda port: ["-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
                              "--workers", "1"],
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _demo_env(data_dir: Path) -> dict[str, str]:
    """The demo's environment (no DJANGO_* set: DEBUG off), on the test database and a fresh data folder, so that
    nothing was collected into STATIC_ROOT beforehand."""
    db = connection.settings_dict
    assert db["ENGINE"] == "django.db.backends.postgresql", "the server subprocess shares the test database"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "WHITENOISE_"))}
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "YIJU_DATA_DIR": str(data_dir),
    }


@contextmanager
def _server(kind: str, *, env: dict[str, str], log_path: Path) -> Iterator[str]:
    """The app served by a real server process; yields its base URL once it accepts connections."""
    port = _free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, *SERVERS[kind](port)], cwd=REPO_ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"{kind} exited: {log_path.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"{kind} did not answer: {log_path.read_text()[-3000:]}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()


@pytest.mark.parametrize("kind", list(SERVERS))
@pytest.mark.django_db
def test_static_files_are_served_with_debug_off(kind: str, tmp_path: Path) -> None:
    with _server(kind, env=_demo_env(tmp_path / "data"), log_path=tmp_path / f"{kind}.log") as base_url:
        for name, content_type in ASSETS.items():
            status, headers, body = _get(f"{base_url}/static/{name}")
            assert status == 200, name
            assert headers["content-type"].split(";")[0] == content_type, (name, headers)
            assert headers["x-content-type-options"] == "nosniff"
            assert body


@pytest.mark.django_db
def test_collected_static_files_are_linked_hashed_and_cached_for_good(tmp_path: Path) -> None:
    """Production after `manage.py collectstatic`: pages link the hashed, compressed copies, served immutable."""
    env = _demo_env(tmp_path / "data")
    collected = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=REPO_ROOT, env=env,
                               capture_output=True, text=True, timeout=300)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert (tmp_path / "data" / "static" / "staticfiles.json").is_file()
    with _server("gunicorn", env=env, log_path=tmp_path / "gunicorn.log") as base_url:
        _, _, login = _get(f"{base_url}/admin/login/")
        stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.decode())
        assert stylesheet, login.decode()
        status, headers, _ = _get(f"{base_url}{stylesheet[1]}")
        assert status == 200
        assert headers["content-type"].startswith("text/css")
        assert "immutable" in headers["cache-control"]


@pytest.mark.django_db(transaction=True)
def test_admin_upload_page_is_styled_under_the_demo_settings(browser: Browser, tmp_path: Path) -> None:
    """The admins' main screen, as the demo serves it: its stylesheets load and style the page."""
    admin = get_user_model().objects.create_superuser("admin", "admin@localhost")
    # Hashed for the server's hashers (the tests' own fast MD5 one is unknown to it); few rounds, it only checks.
    hasher = PBKDF2PasswordHasher()
    admin.password = hasher.encode(ADMIN_PASSWORD, hasher.salt(), iterations=1000)
    admin.save(update_fields=["password"])
    collection = collection_get_or_create(name="guidelines")
    upload_page = reverse("admin:ingestion_collection_documents", args=[collection.pk])
    with _server("runserver", env=_demo_env(tmp_path / "data"), log_path=tmp_path / "runserver.log") as base_url:
        signed_in = browser.new_context()
        login = signed_in.new_page()
        login.goto(f"{base_url}/admin/login/?next={upload_page}")
        login.fill("#id_username", "admin")
        login.fill("#id_password", ADMIN_PASSWORD)
        login.click("input[type=submit]")
        login.wait_for_url(f"{base_url}{upload_page}")
        # A fresh context with the session cookie: nothing cached, so every stylesheet is fetched for this page.
        context = browser.new_context(storage_state=signed_in.storage_state())
        signed_in.close()
        page = context.new_page()
        responses: list[Response] = []
        refused: list[str] = []
        page.on("response", lambda response: responses.append(response))
        page.on("console", lambda message: refused.append(message.text)
                if "Content Security Policy" in message.text else None)
        page.goto(f"{base_url}{upload_page}", wait_until="load")
        assert page.locator("#upload-form").count() == 1

        stylesheets = [r for r in responses if r.request.resource_type == "stylesheet"]
        base_css = [r for r in stylesheets if r.url.endswith("/static/admin/css/base.css")]
        assert base_css, [r.url for r in stylesheets]
        assert all(r.status == 200 for r in stylesheets), [(r.url, r.status) for r in stylesheets]
        assert base_css[0].headers["content-type"].startswith("text/css")
        assert not refused, refused
        # Styling applied: the header band has the admin's colour and the text its font, not the browser defaults.
        header_background = page.eval_on_selector("#header", "e => getComputedStyle(e).backgroundColor")
        body_font = page.evaluate("getComputedStyle(document.body).fontFamily")
        assert header_background not in ("rgba(0, 0, 0, 0)", "transparent"), header_background
        assert "system-ui" in body_font, body_font
        page.screenshot(path=str(tmp_path / "admin_styled.png"), full_page=True)
        context.close()
