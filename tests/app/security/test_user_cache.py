"""A user's roles and communities kept between requests (app/security/user_cache.py): one account
query per request, and every change that matters — a role taken away, an account deactivated, a
community membership removed, a password changed — is seen at the very next request, also when it
was made by another process (here: another engine and session, as the admin CLI or a second
gunicorn worker would), on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from flask_appbuilder.security.sqla.models import Role, User
from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session

from app.domains.estate.models import Community, UserCommunity
from app.security.models import UserTokenVersion


@pytest.fixture
def other_process(demo_app):
    """A session on its own engine: writes the web app did not make."""
    engine = create_engine(demo_app.config["SQLALCHEMY_DATABASE_URI"])
    with Session(engine) as s:
        yield s
    engine.dispose()


def _token(demo_app, username: str) -> dict[str, str]:
    reply = demo_app.test_client().post("/api/v1/security/login", json={
        "username": username, "password": "demo1234", "provider": "db"})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return {"Authorization": f"Bearer {reply.get_json()['access_token']}"}


def _statements(demo_app):
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    with demo_app.app_context():
        from app.db import db

        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    return seen, lambda: event.remove(engine, "before_cursor_execute", record)


def test_a_known_caller_costs_one_account_query(demo_app):
    headers = _token(demo_app, "tech_yc1")
    client = demo_app.test_client()
    assert client.get("/api/v1/inbox/", headers=headers).status_code == 200
    seen, stop = _statements(demo_app)
    try:
        assert client.get("/api/v1/inbox/", headers=headers).status_code == 200
    finally:
        stop()
    security = [s for s in seen if "ab_user" in s or "ab_role" in s or "ab_group" in s
                or "user_community" in s or "user_token_version" in s]
    assert len(security) == 1, security
    assert "user_token_version" in security[0]


def _set_roles(s: Session, username: str, role_names: list[str]) -> list[str]:
    user = s.scalar(select(User).where(User.username == username))
    before = [r.name for r in user.roles]
    user.roles = list(s.scalars(select(Role).where(Role.name.in_(role_names))))
    s.commit()
    return before


def test_a_role_taken_away_elsewhere_is_refused_at_the_next_request(demo_app, other_process):
    headers = _token(demo_app, "manager_yc")
    client = demo_app.test_client()
    assert client.get("/api/v1/alerts/", headers=headers).status_code == 200
    assert client.get("/api/v1/alerts/", headers=headers).status_code == 200  # served from the copy
    before = _set_roles(other_process, "manager_yc", ["Resident"])
    try:
        assert client.get("/api/v1/alerts/", headers=headers).status_code == 403
    finally:
        _set_roles(other_process, "manager_yc", before)
    assert client.get("/api/v1/alerts/", headers=headers).status_code == 200


def test_a_deactivated_account_is_signed_out_at_once(demo_app, other_process, login):
    headers = _token(demo_app, "tech_yc2")
    api = demo_app.test_client()
    page = login("tech_yc2")
    assert api.get("/api/v1/inbox/", headers=headers).status_code == 200
    assert page.get("/inbox/").status_code == 200
    user = other_process.scalar(select(User).where(User.username == "tech_yc2"))
    user.active = False
    other_process.commit()
    try:
        assert api.get("/api/v1/inbox/", headers=headers).status_code == 401
        assert page.get("/inbox/").status_code in (302, 303)  # to the login page
    finally:
        user.active = True
        other_process.commit()
    assert api.get("/api/v1/inbox/", headers=headers).status_code == 200


def test_a_community_membership_removed_hides_the_community_at_once(demo_app, other_process):
    headers = _token(demo_app, "manager_yc")
    client = demo_app.test_client()
    yc = other_process.scalar(select(Community.id).where(Community.code == "YC"))
    query = f"/api/v1/instances/?community_id={yc}&page_size=1"
    assert client.get(query, headers=headers).status_code == 200
    uid = other_process.scalar(select(User.id).where(User.username == "manager_yc"))
    stamp = other_process.scalar(select(UserTokenVersion.stamp).where(UserTokenVersion.user_id == uid)) or 0
    other_process.delete(other_process.get(UserCommunity, (uid, yc)))
    other_process.commit()
    try:
        assert other_process.scalar(select(UserTokenVersion.stamp).where(UserTokenVersion.user_id == uid)) == stamp + 1
        assert client.get(query, headers=headers).status_code == 404
    finally:
        other_process.add(UserCommunity(user_id=uid, community_id=yc))
        other_process.commit()
    assert client.get(query, headers=headers).status_code == 200


def test_a_password_change_ends_the_cached_token(demo_app):
    headers = _token(demo_app, "tech_fx1")
    client = demo_app.test_client()
    assert client.get("/api/v1/inbox/", headers=headers).status_code == 200
    with demo_app.app_context():
        sm = demo_app.appbuilder.sm
        uid = sm.find_user(username="tech_fx1").id
        sm.reset_password(uid, "demo1234")
    assert client.get("/api/v1/inbox/", headers=headers).status_code == 401
    assert client.get("/api/v1/inbox/", headers=_token(demo_app, "tech_fx1")).status_code == 200


def test_two_databases_in_one_process_keep_their_own_accounts(tmp_path):
    """The same user id in two databases (tests on SQLite then PostgreSQL, a restore into a new
    database) is two accounts: a copy made for one is never served for the other."""
    from app.security import user_cache

    seen = []
    for name, role in (("one", "Technician"), ("two", "Manager")):
        engine = create_engine(f"sqlite:///{tmp_path}/{name}.db")
        User.metadata.create_all(engine)
        with Session(engine) as s:
            s.add(User(id=1, first_name=name, last_name=name, username=f"user_{name}",
                       email=f"{name}@example.org", active=True, roles=[Role(name=role)]))
            s.commit()
        with Session(engine) as s:
            user, state = user_cache.load(s, User, 1)
            seen.append((user.username, [r.name for r in user.roles]))
        engine.dispose()
    assert seen == [("user_one", ["Technician"]), ("user_two", ["Manager"])]
