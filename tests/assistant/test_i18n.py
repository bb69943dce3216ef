"""Chinese and English interface: the catalogue is compiled, the language follows the browser or the switch."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import user_create

pytestmark = pytest.mark.django_db


def test_sign_in_page_in_either_language() -> None:
    client = Client()
    chinese = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "用户名" in chinese and "密码" in chinese and "Username" not in chinese
    english = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Username" in english and "用户名" not in english


def test_language_switch_changes_the_ask_page() -> None:
    client = Client()
    client.force_login(user_create("doctor"))
    assert "Ask" in client.get("/").content.decode()
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert "提问" in page and "退出登录" in page
