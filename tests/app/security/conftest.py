"""Fixtures of the authentication/HTTP hardening tests: the app with CSRF ON (as in production)
over the seeded demo database (SQLite and PostgreSQL), and a browser-like login."""
from __future__ import annotations

import pytest
from sqlalchemy import delete

from tests.app.security._helpers import browser_login


@pytest.fixture(scope="module")
def strict_app(demo_db_url, tmp_path_factory):
    """The production configuration of the app (CSRF on, default hosts) over the demo estate."""
    from app.db import db
    from app.settings import Settings
    from app.web import create_app

    settings = Settings(database_url=demo_db_url, var_dir=tmp_path_factory.mktemp("strict-var"),
                        secret_key="h" * 64, public_base_url="https://wy.example.com")
    app = create_app({"TESTING": True}, settings=settings)
    assert app.config["WTF_CSRF_ENABLED"] is True
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def signed_in(strict_app):
    def _signed_in(username: str, password: str | None = None):
        client, response = browser_login(strict_app, username, password)
        assert response.status_code == 302 and "/login" not in response.location, f"login failed: {username}"
        return client

    return _signed_in


@pytest.fixture(autouse=True)
def _no_lockouts_left(request):
    """Failed logins of one test never lock out the next one."""
    yield
    if "strict_app" not in request.fixturenames and "demo_app" not in request.fixturenames:
        return
    app = request.getfixturevalue("strict_app" if "strict_app" in request.fixturenames else "demo_app")
    from app.db import db
    from app.security.models import AuthFailure

    with app.app_context():
        db.session.execute(delete(AuthFailure))
        db.session.commit()
