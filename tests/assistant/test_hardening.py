"""Hardening: production settings pass `check --deploy`, every form refuses a POST without its CSRF token, security
headers and cookie flags, and upload limits that hold while the body streams in."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http.multipartparser import MultiPartParser
from django.test import Client, RequestFactory
from playwright.sync_api import Browser

from config.security import OversizeUpload, UploadLimitHandler
from ingestion.models import Document
from ingestion.services import collection_get_or_create
from tests.assistant.openapi_client import api_schema_fixture, wsgi_app_fixture  # noqa: F401 - fixtures
from tests.factories import user_create

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "yiju.example.org"


def _production_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "SECURE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS=HOST,
        DJANGO_HTTPS="1",
        DJANGO_TLS_PROXY="1",
    )
    env.update(overrides)
    return {key: value for key, value in env.items() if value != ""}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_production_settings_pass_check_deploy() -> None:
    passed = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "no issues" in passed.stdout

    # The same without HTTPS is flagged (the check is real): no HSTS, no redirect, cookies sent over plain HTTP.
    plain = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env(DJANGO_HTTPS=""))
    assert plain.returncode != 0
    assert all(code in plain.stderr for code in ("security.W004", "security.W008", "security.W012", "security.W016"))


def test_production_needs_its_own_secret_key() -> None:
    env = _production_env()
    del env["DJANGO_SECRET_KEY"]
    refused = _manage("check", env=env)
    assert refused.returncode != 0 and "DJANGO_SECRET_KEY" in refused.stderr


PRODUCTION_REQUESTS = f"""
from django.test import Client
client = Client()
plain = client.get("/accounts/login/", HTTP_HOST="{HOST}")
print("plain", plain.status_code, plain.get("Location"))
tls = client.get("/accounts/login/", HTTP_HOST="{HOST}", HTTP_X_FORWARDED_PROTO="https")
print("tls", tls.status_code, tls.get("Strict-Transport-Security"))
print("cookie", tls.cookies["csrftoken"]["secure"], tls.cookies["csrftoken"]["httponly"])
"""


def test_production_redirects_to_https_and_sends_hsts_and_secure_cookies() -> None:
    ran = _manage("shell", "-c", PRODUCTION_REQUESTS, env=_production_env())
    assert ran.returncode == 0, ran.stderr
    lines = dict(line.split(" ", 1) for line in ran.stdout.splitlines() if line.startswith(("plain", "tls", "cookie")))
    assert lines["plain"] == f"301 https://{HOST}/accounts/login/"
    status, hsts = lines["tls"].split(" ", 1)
    assert status == "200" and "max-age=31536000" in hsts and "includeSubDomains" in hsts and "preload" in hsts
    assert lines["cookie"] == "True True"


@pytest.mark.django_db
def test_security_headers_and_cookie_flags() -> None:
    client = Client()
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    for directive in ("default-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'self'",
                      "form-action 'self'"):
        assert directive in policy
    assert "http" not in policy  # nothing from elsewhere
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    csrf_cookie = response.cookies["csrftoken"]
    assert csrf_cookie["httponly"] and csrf_cookie["samesite"] == "Lax"

    user_create("nurse", password="a-long-password-1")
    signed_in = client.post("/accounts/login/", {"username": "nurse", "password": "a-long-password-1"})
    assert signed_in.status_code == 302
    session_cookie = signed_in.cookies["sessionid"]
    assert session_cookie["httponly"] and session_cookie["samesite"] == "Lax"


# Every form and stream endpoint that takes a POST from a page (the SSE endpoints take the form's token in a header).
FORM_POSTS = [
    "/accounts/logout/",
    "/i18n/setlang/",
    "/",
    "/answers/stream/",
    "/clinical/",
    "/clinical/stream/",
    "/policies/",
    "/policies/stream/",
    "/admin/ingestion/document/add/",
    "/admin/ingestion/collection/add/",
    "/admin/ingestion/collection/{collection}/documents/",
]


@pytest.mark.django_db
def test_every_form_refuses_a_post_without_its_csrf_token() -> None:
    collection = collection_get_or_create(name="set")
    user = user_create("root", superuser=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/accounts/login/", {"username": "x", "password": "y"}).status_code == 403
    token = client.get("/").cookies["csrftoken"].value  # the page hands out the token its forms carry

    for path in FORM_POSTS:
        url = path.format(collection=collection.id)
        refused = client.post(url, {"question": "q"})
        assert refused.status_code == 403, url
        assert b"CSRF" in refused.content, url
        # With the token the same request gets past the check (the view answers whatever the data deserve).
        allowed = client.post(url, {"question": "q", "csrfmiddlewaretoken": token}, HTTP_X_CSRFTOKEN=token)
        assert allowed.status_code != 403, url
        client.force_login(user)  # logging out above ended the session

    # The API with a session (the pages' own login) needs the token too; with an API key it needs none.
    refused = client.post("/api/answers/", {"question": "q", "collections": ["set"]}, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]


def _wsgi_post(app, *, path: str, declared: int, stream: io.RawIOBase) -> tuple[str, bytes]:
    environ = RequestFactory().post(path).environ
    environ.update({"CONTENT_LENGTH": str(declared), "CONTENT_TYPE": "multipart/form-data; boundary=xyz",
                    "wsgi.input": stream})
    started: list[str] = []
    body = b"".join(app(environ, lambda status, headers, *_: started.append(status)))
    return started[0], body


class _Zeros(io.RawIOBase):
    """A body of n zero bytes that counts what is read of it, never holding more than one read in memory."""

    def __init__(self, size: int) -> None:
        self.remaining, self.read_bytes = size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:
        size = min(len(buffer), self.remaining)
        buffer[:size] = bytes(size)
        self.remaining -= size
        self.read_bytes += size
        return size


@pytest.mark.django_db
def test_request_declared_over_the_limit_is_refused_before_its_body_is_read(settings, wsgi_app) -> None:
    settings.UPLOAD_REQUEST_MAX_BYTES = 1024 * 1024
    body = _Zeros(512 * 1024 * 1024)
    status, content = _wsgi_post(wsgi_app, path="/admin/ingestion/document/add/", declared=512 * 1024 * 1024,
                                 stream=body)
    assert status.startswith("413") and b"larger than 1 MB" in content
    assert body.read_bytes == 0


def _multipart(parts: list[tuple[str, str, bytes]], boundary: str = "xyz") -> bytes:
    out = io.BytesIO()
    for field, name, content in parts:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
                  "Content-Type: application/octet-stream\r\n\r\n".encode())
        out.write(content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue()


def _multipart_meta(data: bytes) -> dict[str, str]:
    return {"CONTENT_TYPE": "multipart/form-data; boundary=xyz", "CONTENT_LENGTH": str(len(data))}


class _Counting(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.read_bytes = 0

    def read(self, size: int | None = -1) -> bytes:
        piece = super().read(size)
        self.read_bytes += len(piece)
        return piece


@pytest.mark.django_db
def test_body_streaming_past_the_request_limit_stops_being_read(settings) -> None:
    settings.UPLOAD_REQUEST_MAX_BYTES = 1024 * 1024
    data = _multipart([("files", "a.txt", b"a" * (8 * 1024 * 1024))])
    request = RequestFactory().post("/")
    stream = _Counting(data)
    handlers = [UploadLimitHandler(request)]
    request.upload_handlers = handlers
    parser = MultiPartParser(_multipart_meta(data), stream, handlers)
    _, files = parser.parse()
    assert not files
    assert request.upload_refused
    assert stream.read_bytes < 2 * 1024 * 1024 < len(data)  # stopped near the limit, not read to the end


@pytest.mark.django_db
def test_a_file_over_the_limit_is_not_stored_and_fails_alone_on_the_set_upload_page(settings) -> None:
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    big = os.urandom(3 * 1024 * 1024)
    collection = collection_get_or_create(name="set")
    client = Client()
    client.force_login(user_create("root", superuser=True))

    response = client.post(
        f"/admin/ingestion/collection/{collection.id}/documents/",
        {"files": [SimpleUploadedFile("big.txt", big), SimpleUploadedFile("note.md", b"# Note\n\nA short note.")]},
    )
    assert response.status_code == 302
    refused = Document.objects.get(collection=collection, original_name="big.txt")
    assert refused.status == Document.Status.FAILED and "over the limit" in refused.failure_reason
    assert not refused.file and refused.size_bytes == len(big)
    assert Document.objects.filter(collection=collection, original_name="note.md").exclude(
        status=Document.Status.FAILED).exists()

    # Where a form cannot refuse one file alone, the request is refused.
    single = client.post("/admin/ingestion/document/add/",
                         {"collection": collection.id, "upload": SimpleUploadedFile("big.txt", big)})
    assert single.status_code == 413 and "big.txt" in single.content.decode()
    assert Document.objects.filter(collection=collection).count() == 2


@pytest.mark.django_db
def test_the_upload_handler_keeps_only_name_size_and_digest_of_an_oversize_file(settings) -> None:
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    big, small = os.urandom(3 * 1024 * 1024), b"small file"
    data = _multipart([("files", "big.bin", big), ("files", "small.txt", small)])
    request = RequestFactory().post("/")
    parser = MultiPartParser(_multipart_meta(data), io.BytesIO(data), request.upload_handlers)
    _, files = parser.parse()
    oversize, kept = files.getlist("files")
    assert isinstance(oversize, OversizeUpload)
    assert (oversize.name, oversize.size, oversize.sha256) == ("big.bin", len(big), hashlib.sha256(big).hexdigest())
    with pytest.raises(OSError):
        oversize.read()
    assert kept.read() == small


@pytest.mark.django_db(transaction=True)
def test_pages_run_their_scripts_under_the_content_security_policy(live_server, browser: Browser) -> None:
    """In Chromium, signed in: the CSP refuses nothing the pages load or run (their inline scripts are allowed)."""
    client = Client()
    client.force_login(user_create("root", superuser=True))
    session = client.cookies["sessionid"].value
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    for path in ["/", "/clinical/", "/policies/", "/admin/", "/accounts/login/"]:
        page = context.new_page()
        refused: list[str] = []
        page.on("console", lambda message, refused=refused: refused.append(message.text)
                if "Content Security Policy" in message.text else None)
        response = page.goto(f"{live_server.url}{path}", wait_until="load")
        assert response.status == 200 and "frame-ancestors" in response.headers["content-security-policy"], path
        assert not refused, (path, refused)
        page.close()
    context.close()
