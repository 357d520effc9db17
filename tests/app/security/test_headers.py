"""Issue #12 item 7 (headers): every page carries CSP (with frame-ancestors), nosniff and a
Referrer-Policy; the CSP allows every inline script and handler the pages really contain (so it
breaks nothing) and nothing else; no ``Server: Werkzeug``."""
from __future__ import annotations

import re
import threading
import urllib.request

import pytest

from app.security.http import _HANDLER_RE, _SCRIPT_RE, _sha256, template_script_hashes

BASE = "https://wy.example.com"


def _parameterless_get_routes(app) -> list[str]:
    routes = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith(("/static", "/appbuilder")):
            routes.append(rule.rule)
    return sorted(set(routes))


def _check_headers(path: str, response) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, path
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0], path
    assert headers.get("X-Content-Type-Options") == "nosniff", path
    assert headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", path
    assert headers.get("X-Frame-Options") == "DENY", path
    assert headers.get("Strict-Transport-Security"), path  # public_base_url is https here


def _check_inline_code_allowed(path: str, response) -> None:
    """What CSP would block in this page: inline scripts without the nonce or a listed hash."""
    csp = response.headers["Content-Security-Policy"]
    script_src = csp.split("script-src", 1)[1].split(";", 1)[0]
    nonce = re.search(r"'nonce-([^']+)'", script_src).group(1)
    html = response.get_data(as_text=True)
    for m in _SCRIPT_RE.finditer(html):
        attrs, body = m.group("attrs"), m.group("body")
        if f'nonce="{nonce}"' in attrs:
            continue
        if "src=" in attrs:
            src = re.search(r'src="([^"]+)"', attrs).group(1)
            assert src.startswith("/"), f"{path}: external script {src}"
            continue
        if body.strip():
            assert _sha256(body) in script_src, f"{path}: inline script CSP would block: {body[:80]!r}"
    for m in _HANDLER_RE.finditer(html):
        assert _sha256(m.group("code")) in script_src, f"{path}: handler CSP would block: {m.group(0)!r}"


@pytest.mark.parametrize("username", ["admin", "manager_yc", "resident_yc", None])
def test_every_page_has_the_security_headers_and_csp_blocks_none_of_its_scripts(strict_app, signed_in, username):
    client = signed_in(username) if username else strict_app.test_client()
    checked = 0
    for path in _parameterless_get_routes(strict_app):
        response = client.get(f"{BASE}{path}")
        _check_headers(path, response)
        if response.status_code == 200 and response.mimetype == "text/html":
            _check_inline_code_allowed(path, response)
            checked += 1
    assert checked >= (1 if username is None else 5)


def test_pages_with_inline_scripts_are_allowed(strict_app, signed_in):
    """The pages whose templates carry inline scripts or handlers (found by the template scan)."""
    from sqlalchemy import select

    from app.db import db
    from app.engine.models import ProcessInstance

    client = signed_in("admin")
    with strict_app.app_context():
        instance_id = db.session.scalar(select(ProcessInstance.id).order_by(ProcessInstance.id))
    paths = ["/inbox/"]
    if instance_id:
        paths.append(f"/instances/show/{instance_id}")
    for path in paths:
        response = client.get(f"{BASE}{path}")
        _check_headers(path, response)
        assert response.status_code == 200, path
        _check_inline_code_allowed(path, response)


def test_every_inline_script_in_the_templates_is_hashable():
    """An inline script with template expressions would get no hash: give it a nonce instead
    (``nonce="{{ csp_nonce() }}"``) or move it to a static file."""
    from app.security.http import TEMPLATES_DIR

    for path in TEMPLATES_DIR.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for m in _SCRIPT_RE.finditer(text):
            if "src=" in m.group("attrs") or "nonce=" in m.group("attrs"):
                continue
            assert "{{" not in m.group("body") and "{%" not in m.group("body"), f"{path}: dynamic inline script"
        for m in _HANDLER_RE.finditer(text):
            assert "{{" not in m.group("code"), f"{path}: dynamic inline handler"
    scripts, handlers = template_script_hashes()
    assert scripts and handlers  # the scan finds the ones we have today


def test_no_werkzeug_server_banner_on_a_real_server(strict_app):
    from werkzeug.serving import make_server

    from app.security.http import bannerless_request_handler

    class Quiet(bannerless_request_handler()):  # what `estateflow demo`/`serve` run with
        def log_request(self, *args, **kwargs) -> None:
            pass

    server = make_server("127.0.0.1", 0, strict_app, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/login/", timeout=10) as response:
            assert response.headers.get_all("Server") == ["estateflow"]
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
