"""Issue #12 item 7 (authentication): lockout per account and per address shared by every web
process (form and JWT login), password policy, logout/password change end every session and
token, 64-bit ids, API column lengths. SQLite and PostgreSQL (the demo database fixture)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.db import db
from app.domains.estate.models import Household
from app.security.models import AuthFailure
from tests.app.security._helpers import browser_login, csrf_token_of

BASE = "https://wy.example.com"


@pytest.fixture(scope="module")
def second_process(demo_db_url, tmp_path_factory):
    """Another web process over the same database (as a second gunicorn worker would be)."""
    from app.settings import Settings
    from app.web import create_app

    settings = Settings(database_url=demo_db_url, var_dir=tmp_path_factory.mktemp("proc2"),
                        secret_key="h" * 64, public_base_url="https://wy.example.com")
    app = create_app({"TESTING": True}, settings=settings)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _api_login(app, username, password, **environ):
    return app.test_client().post(f"{BASE}/api/v1/security/login", environ_base=environ,
                                  json={"username": username, "password": password, "provider": "db"})


# --- lockout ---------------------------------------------------------------------------------------
def test_account_lockout_is_shared_by_processes_and_covers_the_jwt_login(strict_app, second_process):
    # five wrong guesses, spread over two processes and both login paths
    for app in (strict_app, second_process, strict_app):
        _, wrong = browser_login(app, "accountant_yc", "wrong-guess")
        assert wrong.status_code == 302 and "/login" in wrong.location
    for app in (second_process, strict_app):
        assert _api_login(app, "accountant_yc", "wrong-guess").status_code == 401
    with strict_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuthFailure)
                                 .where(AuthFailure.key == "accountant_yc")) == 5
    # now even the right password is refused, in both processes, by form and by API
    client, right = browser_login(second_process, "accountant_yc")
    assert right.status_code == 303 and right.headers["Retry-After"]
    assert client.get(f"{BASE}/inbox/").status_code == 302  # not signed in
    assert "登录失败次数过多" in client.get(f"{BASE}/login/").text or \
        "Too many failed logins" in client.get(f"{BASE}/login/").text
    api = _api_login(strict_app, "AccountANT_yc", "demo1234")  # user names are not case games
    assert api.status_code == 429 and int(api.headers["Retry-After"]) > 0
    # other accounts are not affected
    assert _api_login(strict_app, "manager_yc", "demo1234").status_code == 200


def test_lockout_lifts_after_the_lockout_time(strict_app):
    from datetime import timedelta

    for _ in range(5):
        assert _api_login(strict_app, "guard_yc", "nope-nope-nope").status_code == 401
    assert _api_login(strict_app, "guard_yc", "demo1234").status_code == 429
    with strict_app.app_context():  # 16 minutes pass
        for row in db.session.scalars(select(AuthFailure).where(AuthFailure.key == "guard_yc")):
            row.at = row.at - timedelta(minutes=16)
        db.session.commit()
    assert _api_login(strict_app, "guard_yc", "demo1234").status_code == 200
    with strict_app.app_context():  # a success clears the account's failures
        assert db.session.scalar(select(func.count()).select_from(AuthFailure)
                                 .where(AuthFailure.scope == "account", AuthFailure.key == "guard_yc")) == 0


def test_address_lockout_stops_one_address_trying_many_accounts(strict_app):
    attacker = {"REMOTE_ADDR": "203.0.113.7"}
    for i in range(20):
        assert _api_login(strict_app, f"nobody{i}", "guess-guess", **attacker).status_code == 401
    assert _api_login(strict_app, "frontdesk_yc", "demo1234", **attacker).status_code == 429
    _, form = browser_login(strict_app, "frontdesk_yc", **attacker)
    assert form.status_code == 303
    # another address is not locked
    assert _api_login(strict_app, "frontdesk_yc", "demo1234", REMOTE_ADDR="198.51.100.1").status_code == 200


# --- token version: logout and password change end sessions and tokens everywhere ------------------
def test_logout_ends_every_session_and_token_of_the_user(strict_app, second_process, signed_in):
    laptop = signed_in("tech_yc1")
    phone, _ = browser_login(second_process, "tech_yc1")
    token = _api_login(strict_app, "tech_yc1", "demo1234").json["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert phone.get(f"{BASE}/inbox/").status_code == 200
    assert strict_app.test_client().get(f"{BASE}/api/v1/estate/communities", headers=bearer).status_code in (200, 403)

    home = laptop.get(f"{BASE}/")
    assert laptop.post(f"{BASE}/logout/", data={"csrf_token": csrf_token_of(home.text)}).status_code == 302

    assert phone.get(f"{BASE}/inbox/").status_code == 302  # the other process's session ended too
    assert strict_app.test_client().get(f"{BASE}/api/v1/estate/communities", headers=bearer).status_code == 401
    # a new login works and gets a fresh token
    again = signed_in("tech_yc1")
    assert again.get(f"{BASE}/inbox/").status_code == 200


def test_password_change_ends_other_sessions_keeps_this_one(strict_app, second_process, signed_in):
    here = signed_in("consultant")
    elsewhere, _ = browser_login(second_process, "consultant")
    token = _api_login(strict_app, "consultant", "demo1234").json["access_token"]
    form = here.get(f"{BASE}/resetmypassword/form")
    assert form.status_code == 200
    new = "Kastanie-Blatt-2026"
    changed = here.post(f"{BASE}/resetmypassword/form", data={
        "password": new, "conf_password": new, "csrf_token": csrf_token_of(form.text)})
    assert changed.status_code == 302
    assert here.get(f"{BASE}/").status_code == 200  # the person who changed it stays in
    assert elsewhere.get(f"{BASE}/").status_code == 302
    assert strict_app.test_client().get(f"{BASE}/api/v1/estate/communities",
                                        headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert _api_login(strict_app, "consultant", new).status_code == 200
    with strict_app.app_context():  # put the demo password back for other tests
        strict_app.appbuilder.sm.reset_password(strict_app.appbuilder.sm.find_user("consultant").id, "demo1234")


# --- password policy -------------------------------------------------------------------------------
@pytest.mark.parametrize("password,ok", [
    ("demo1234", False), ("admin", False), ("short1!", False), ("password123", False),
    ("Password1234!", False), ("qwertyuiop", False), ("aaaaaaaaaaaa", False),
    ("Kastanie-Blatt-2026", True), ("我家住在三号楼十二层", True),
])
def test_password_policy(demo_app, password, ok):
    from app.security.passwords import problems

    with demo_app.app_context():
        assert (problems(password) == []) is ok, problems(password)


def test_password_policy_applies_to_add_user_and_reset_forms(strict_app, signed_in):
    admin = signed_in("admin")
    with strict_app.app_context():
        role_id = strict_app.appbuilder.sm.find_role("Manager").id
    form = admin.get(f"{BASE}/users/add")
    data = {"first_name": "New", "last_name": "Staff", "username": "new_staff", "active": "y",
            "email": "new_staff@example.com", "roles": str(role_id), "csrf_token": csrf_token_of(form.text)}
    weak = admin.post(f"{BASE}/users/add", data={**data, "password": "demo1234", "conf_password": "demo1234"})
    assert weak.status_code == 200 and ("至少需要" in weak.text or "at least" in weak.text)
    with strict_app.app_context():
        assert strict_app.appbuilder.sm.find_user("new_staff") is None
    good = admin.post(f"{BASE}/users/add", data={**data, "password": "Kastanie-Blatt-2026",
                                                 "conf_password": "Kastanie-Blatt-2026"})
    assert good.status_code == 302
    with strict_app.app_context():
        user = strict_app.appbuilder.sm.find_user("new_staff")
        assert user is not None
        user_id = user.id
    # an admin resetting someone's password, and a user resetting their own
    reset = admin.get(f"{BASE}/resetpassword/form?pk={user_id}")
    refused = admin.post(f"{BASE}/resetpassword/form?pk={user_id}", data={
        "password": "12345678", "conf_password": "12345678", "csrf_token": csrf_token_of(reset.text)})
    assert refused.status_code == 200 and ("至少需要" in refused.text or "at least" in refused.text)
    mine = signed_in("manager_fx")
    page = mine.get(f"{BASE}/resetmypassword/form")
    common = mine.post(f"{BASE}/resetmypassword/form", data={
        "password": "password1234", "conf_password": "password1234", "csrf_token": csrf_token_of(page.text)})
    assert common.status_code == 200 and ("太常见" in common.text or "too common" in common.text)
    assert _api_login(strict_app, "manager_fx", "demo1234").status_code == 200  # unchanged


# --- ids and lengths --------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [
    "/households/show/99999999999999999999999",
    "/households/edit/99999999999999999999999",
    "/api/v1/estate/households/99999999999999999999999",
    "/api/v1/estate/communities/99999999999999999999999/buildings",
    "/payments/household/99999999999999999999999",
])
def test_ids_beyond_64_bit_are_not_found(strict_app, signed_in, path):
    client = signed_in("admin")
    assert client.get(f"{BASE}{path}").status_code == 404


def test_api_refuses_a_value_longer_than_its_column(strict_app):
    token = _api_login(strict_app, "manager_yc", "demo1234").json["access_token"]
    with strict_app.app_context():
        home = db.session.scalar(select(Household).where(Household.code == "YC-1-102"))
    client = strict_app.test_client()
    response = client.put(f"{BASE}/api/v1/estate/households/{home.id}", json={"phone": "1" * 31},
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and "phone" in response.text
    ok = client.put(f"{BASE}/api/v1/estate/households/{home.id}", json={"phone": "1" * 30},
                    headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
