"""Shared fixtures: real SQLite and real PostgreSQL sessions, same tests on both.

PostgreSQL is required, not optional: the suite fails loudly if it cannot reach it
(``ESTATEFLOW_TEST_PG_URL``, default the local trust-auth server).
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.platform.discovery import import_all_models

PG_ADMIN_URL = os.environ.get(
    "ESTATEFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _make_pg_database() -> tuple[str, str]:
    name = f"ef_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # fail loudly: PostgreSQL is part of the suite
        pytest.fail(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}", pytrace=False)
    finally:
        admin.dispose()
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def _drop_pg_database(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test run, dropped afterwards."""
    name, url = _make_pg_database()
    yield url
    _drop_pg_database(name)


@pytest.fixture(scope="session")
def _engines(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> dict[str, Engine]:
    metadata = import_all_models()
    sqlite_path = tmp_path_factory.mktemp("db") / "test.db"
    engines = {
        "sqlite": create_engine(f"sqlite:///{sqlite_path}"),
        "postgres": create_engine(pg_url),
    }
    for engine in engines.values():
        metadata.create_all(engine)
    return engines


def _wipe(engine: Engine) -> None:
    metadata = import_all_models()
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgres"])
def db_engine(request: pytest.FixtureRequest, _engines: dict[str, Engine]) -> Iterator[Engine]:
    """The same test runs once on SQLite and once on PostgreSQL; tables start empty."""
    engine = _engines[request.param]
    _wipe(engine)
    yield engine
    _wipe(engine)


@pytest.fixture
def session(db_engine: Engine) -> Iterator[Session]:
    with Session(db_engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def two_communities(session) -> tuple[int, int]:
    """Two committed communities of one company, YC and HX: (yc id, hx id)."""
    from app.domains.estate.models import Community, PropertyCompany

    company = PropertyCompany(name="示例物业")
    one = Community(company=company, code="YC", name="怡翠花园")
    two = Community(company=company, code="HX", name="和兴小区")
    session.add_all([company, one, two])
    session.commit()
    return one.id, two.id


# ---------------------------------------------------------------------------
# A migrated database with the demo estate, and the web app on top of it.
# ---------------------------------------------------------------------------

def _seed_demo(url: str, var_dir) -> None:
    """Migrate ``url`` with alembic and load the full demo (base estate + every module)."""
    from app.bootstrap import _after_demo_seed
    from app.demo.seed import seed_demo
    from app.migrate import upgrade
    from app.settings import Settings
    from app.web import create_app

    upgrade(url)
    settings = Settings(database_url=url, var_dir=var_dir, secret_key="s" * 64)
    app = create_app({"TESTING": True}, settings=settings)
    with app.app_context():
        from app.db import db

        seed_demo(db.session, app.appbuilder.sm)
        db.session.commit()
        _after_demo_seed(db.session)
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def _demo_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One migrated, seeded database per backend, built on first use; copied per module.

    Seeding the demo (logins, estate, module demo data) is the slow part of a web test
    module, so it happens once per backend and every module gets a cheap copy.
    """
    templates: dict[str, str] = {}
    yield templates
    for backend, ref in templates.items():
        if backend == "postgres":
            _drop_pg_database(ref)


def _demo_template(backend: str, templates: dict, tmp_path_factory) -> str:
    if backend not in templates:
        var_dir = tmp_path_factory.mktemp("seedvar")
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("template") / "demo.db"
            _seed_demo(f"sqlite:///{path}", var_dir)
            templates[backend] = str(path)
        else:
            name, url = _make_pg_database()
            templates[backend] = name
            _seed_demo(url, var_dir)
    return templates[backend]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def demo_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                _demo_templates: dict) -> Iterator[str]:
    """A private copy of the migrated (alembic, not create_all) and seeded demo database."""
    import shutil

    template = _demo_template(request.param, _demo_templates, tmp_path_factory)
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("demo") / "demo.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
    else:
        name = f"ef_test_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        admin.dispose()
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
        _drop_pg_database(name)


@pytest.fixture(scope="module")
def demo_app(demo_db_url: str, tmp_path_factory: pytest.TempPathFactory):
    """The web app over a copy of the seeded demo estate (CSRF off for the test client only)."""
    from app.settings import Settings
    from app.web import create_app

    var_dir = tmp_path_factory.mktemp("var")
    settings = Settings(database_url=demo_db_url, var_dir=var_dir, secret_key="t" * 64)
    app = create_app({"WTF_CSRF_ENABLED": False, "TESTING": True}, settings=settings)
    yield app
    with app.app_context():
        from app.db import db

        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def login(demo_app):
    """``login(username)`` → a test client logged in as that demo user."""

    def _login(username: str, password: str | None = None):
        client = demo_app.test_client()
        pw = password or ("admin" if username == "admin" else "demo1234")
        response = client.post("/login/", data={"username": username, "password": pw})
        assert response.status_code == 302, f"login failed for {username}"
        return client

    return _login
