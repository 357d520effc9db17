"""Helpers of the security tests (importable: ``tests`` is a namespace package)."""
from __future__ import annotations

import re

DEMO_PASSWORDS = {"admin": "admin"}


def csrf_token_of(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or \
        re.search(r'id="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no csrf_token in the page"
    return match.group(1)


def browser_login(app, username: str, password: str | None = None, host: str = "wy.example.com", **environ):
    """Sign in through the login form like a browser (GET the form, POST it with its token)."""
    client = app.test_client()
    base = f"https://{host}"
    client.environ_base["HTTP_REFERER"] = f"{base}/"  # Flask-WTF checks the Referer over HTTPS
    page = client.get(f"{base}/login/", environ_base=environ)
    pw = password or DEMO_PASSWORDS.get(username, "demo1234")
    response = client.post(f"{base}/login/", data={"username": username, "password": pw,
                                                    "csrf_token": csrf_token_of(page.text)},
                           environ_base=environ)
    return client, response
