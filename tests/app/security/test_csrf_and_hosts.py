"""Issue #12 items 5 and 6: CSRF on cookie-authenticated API calls, cookie flags, no state change
on GET (language, logout, payment cancel), Host allow-list, URLs only from public_base_url.

Runs on SQLite and PostgreSQL (the demo database fixture), with CSRF on as in production.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.db import db
from app.domains.estate.models import Household
from app.domains.fees.models import Bill
from app.domains.fees.models import PaymentOrder
from app.domains.fees.gateways.sandbox import SandboxBank
from tests.app.security._helpers import browser_login, csrf_token_of

BASE = "https://wy.example.com"


def _household(app, code="YC-1-101"):
    with app.app_context():
        return db.session.scalar(select(Household).where(Household.code == code))


# --- 5. CSRF on the JSON API ---------------------------------------------------------------------
def test_cookie_authenticated_api_write_needs_the_csrf_header(strict_app, signed_in):
    client = signed_in("manager_yc")
    home = _household(strict_app)
    url = f"{BASE}/api/v1/estate/households/{home.id}"
    # a cross-site page can make the browser send this request with the cookie, not with a header
    forged = client.put(url, json={"head_name": "被改"})
    assert forged.status_code == 400 and "CSRF" in forged.json["message"]
    assert _household(strict_app).head_name == home.head_name
    # the app's own pages send the session's token in X-CSRFToken
    token = csrf_token_of(client.get(f"{BASE}/households/list/").text)
    ok = client.put(url, json={"head_name": home.head_name}, headers={"X-CSRFToken": token})
    assert ok.status_code == 200, ok.text
    # reads stay plain GETs
    assert client.get(url).status_code == 200


def test_bearer_token_callers_need_no_csrf_header(strict_app):
    client = strict_app.test_client()
    login = client.post(f"{BASE}/api/v1/security/login",
                        json={"username": "manager_yc", "password": "demo1234", "provider": "db"})
    assert login.status_code == 200, login.text
    home = _household(strict_app)
    response = client.put(f"{BASE}/api/v1/estate/households/{home.id}", json={"head_name": home.head_name},
                          headers={"Authorization": f"Bearer {login.json['access_token']}"})
    assert response.status_code == 200, response.text


def test_session_cookie_is_samesite_lax_httponly_and_secure_behind_tls(strict_app, demo_app):
    _, response = browser_login(strict_app, "manager_yc")
    cookie = next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session="))
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie and "Secure" in cookie
    # without TLS in public_base_url (the demo on http://127.0.0.1) the cookie cannot be Secure
    assert demo_app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert demo_app.config["SESSION_COOKIE_SECURE"] is False


def test_cookie_secure_setting_wins():
    from app.security.http import flask_config
    from app.settings import Settings

    assert flask_config(Settings(secret_key="k" * 32, public_base_url="http://x.test",
                                 cookie_secure=True))["SESSION_COOKIE_SECURE"] is True
    assert flask_config(Settings(secret_key="k" * 32, public_base_url="https://x.test",
                                 cookie_secure=False))["SESSION_COOKIE_SECURE"] is False


def test_language_switch_is_a_post_with_csrf(strict_app, signed_in):
    client = signed_in("manager_yc")
    assert client.get(f"{BASE}/lang/en").status_code == 405
    assert "模块菜单" in client.get(f"{BASE}/").text  # still Chinese
    assert client.post(f"{BASE}/lang/en").status_code == 400  # no token: refused
    home = client.get(f"{BASE}/").text
    # the navbar posts a form (no <a href=/lang/..>)
    assert "/lang/en" in home and not re.search(r'<a[^>]+href="/lang/', home)
    switched = client.post(f"{BASE}/lang/en", data={"csrf_token": csrf_token_of(home), "next": "/inbox/"})
    assert switched.status_code == 302 and switched.location.endswith("/inbox/")
    assert "Module menu" in client.get(f"{BASE}/").text
    # never an open redirect
    away = client.post(f"{BASE}/lang/zh", data={"csrf_token": csrf_token_of(home), "next": "https://evil.test/x"})
    assert away.location == "/"


def test_logout_is_a_post_with_csrf(strict_app, signed_in):
    client = signed_in("manager_yc")
    assert client.get(f"{BASE}/logout/").status_code == 405
    home = client.get(f"{BASE}/")
    assert home.status_code == 200  # still signed in
    assert 'id="ef-logout"' in home.text
    assert client.post(f"{BASE}/logout/").status_code == 400  # no token
    assert client.get(f"{BASE}/").status_code == 200
    out = client.post(f"{BASE}/logout/", data={"csrf_token": csrf_token_of(home.text)})
    assert out.status_code == 302
    assert client.get(f"{BASE}/").status_code == 302  # signed out


def _start_payment(app, client, host: str = "wy.example.com"):
    with app.app_context():
        home = db.session.scalar(select(Household).where(Household.code == "YC-1-101"))
        bill = db.session.scalar(select(Bill).where(Bill.household_id == home.id,
                                                    Bill.status.in_(("open", "partially_paid"))))
    page = client.get(f"https://{host}/me/bills/")
    response = client.post(f"https://{host}/me/bills/pay", data={"bill_id": str(bill.id),
                                                                   "csrf_token": csrf_token_of(page.text)})
    assert response.status_code == 302 and "/sandbox-pay/" in response.location, response.text
    out_trade_no = re.search(r"/sandbox-pay/([A-Z0-9]+)", response.location).group(1)
    token = response.location.split("t=", 1)[1]
    from urllib.parse import unquote

    return out_trade_no, unquote(token)


def _order_status(app, out_trade_no):
    with app.app_context():
        db.session.expire_all()
        return db.session.scalar(select(PaymentOrder.status).where(PaymentOrder.out_trade_no == out_trade_no))


def test_cancelling_a_payment_order_needs_a_post(strict_app, signed_in):
    client = signed_in("resident_yc")
    out_trade_no, token = _start_payment(strict_app, client)
    # a link (GET) with ?cancelled=1 no longer cancels anything
    page = client.get(f"{BASE}/me/bills/result/{out_trade_no}?cancelled=1")
    assert page.status_code == 200 and _order_status(strict_app, out_trade_no) == "created"
    assert client.post(f"{BASE}/me/bills/result/{out_trade_no}?cancelled=1").status_code == 400  # no token
    assert _order_status(strict_app, out_trade_no) == "created"
    # the cashier's Cancel button: a POST, forwarded with 307 so the form (and its token) follows
    cashier = client.get(f"{BASE}/sandbox-pay/{out_trade_no}", query_string={"t": token})
    cancel = client.post(f"{BASE}/sandbox-pay/{out_trade_no}/cancel",
                         data={"t": token, "csrf_token": csrf_token_of(cashier.text)})
    assert cancel.status_code == 307 and cancel.location.startswith(f"{BASE}/me/bills/result/{out_trade_no}")
    back = client.post(cancel.location, data={"t": token, "csrf_token": csrf_token_of(cashier.text)})
    assert back.status_code == 303
    assert _order_status(strict_app, out_trade_no) == "cancelled"


# --- 6. Host header ----------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["evil.example", "wy.example.com.evil.example", "attacker.test:5000"])
def test_requests_for_an_unknown_host_get_400(strict_app, host):
    client = strict_app.test_client()
    assert client.get("/login/", headers={"Host": host}).status_code == 400
    assert client.post("/pay/notify/sandbox", data=b"{}", headers={"Host": host}).status_code == 400


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:5000", "wy.example.com", "wy.example.com:443"])
def test_the_allowed_hosts_are_answered(strict_app, host):
    assert strict_app.test_client().get("/login/", headers={"Host": host}).status_code == 200


def test_allowed_hosts_setting():
    from app.settings import Settings

    assert Settings(secret_key="k" * 32, public_base_url="https://wy.example.com").allowed_host_list() == [
        "localhost", "127.0.0.1", "wy.example.com"]
    assert Settings(secret_key="k" * 32, allowed_hosts="a.test, .b.test").allowed_host_list() == ["a.test", ".b.test"]


def test_payment_urls_come_from_public_base_url_not_from_the_host_header(strict_app):
    # an allowed name with an attacker's port: before, the bank would have POSTed to 127.0.0.1:6379
    client, response = browser_login(strict_app, "resident_yc", host="127.0.0.1:6379")
    assert response.status_code == 302
    out_trade_no, token = _start_payment(strict_app, client, host="127.0.0.1:6379")
    with strict_app.app_context():
        order = SandboxBank().read_token(out_trade_no, token)
    assert order["n"] == f"{BASE}/pay/notify/sandbox"
    assert order["r"] == f"{BASE}/me/bills/result/{out_trade_no}"


def test_production_refuses_to_start_without_public_base_url(tmp_path):
    from app.security.http import ConfigurationError, flask_config
    from app.settings import Settings

    with pytest.raises(ConfigurationError):
        flask_config(Settings(secret_key="k" * 32, production=True, var_dir=tmp_path))
    config = flask_config(Settings(secret_key="k" * 32, production=True, public_base_url="https://wy.example.com/"))
    assert config["ESTATEFLOW_PUBLIC_BASE_URL"] == "https://wy.example.com"
