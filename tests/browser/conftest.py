"""Browser journeys: the real app (CSRF on) behind a live werkzeug server, driven by chromium.

* ``live_server`` — module-scoped over ``demo_db_url`` (tests/conftest.py), so every journey
  runs once on SQLite and once on PostgreSQL; yields the base URL (``http://127.0.0.1:<port>``).
* ``browser`` — one Debian chromium per test session (Playwright's own download does not work
  here; ``ESTATEFLOW_CHROMIUM`` overrides the path).
* ``page`` (1280x800) / ``phone_page`` (390x844, touch) — a new browser context per test.
* ``login(page, base, username, password)`` — signs in through FAB's login form; test modules get
  it as the ``login`` fixture (overriding the test-client ``login`` of tests/conftest.py here),
  because ``--import-mode=importlib`` makes conftest helpers unimportable.
* ``demo_ids`` — ids of the demo communities and one household per community, read from the
  database (the UI gives no ids, and the isolation journey needs another community's ids).

On failure a screenshot is saved to ``/tmp/estateflow-shots/<test>.png``.
"""
from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

SHOTS_DIR = Path("/tmp/estateflow-shots")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_PASSWORDS = {"admin": "admin"}
DEFAULT_PASSWORD = "demo1234"
TIMEOUT_MS = 15_000


def _chromium_path() -> str:
    candidates = [os.environ.get("ESTATEFLOW_CHROMIUM"), "/usr/bin/chromium", "/usr/lib/chromium/chromium",
                  shutil.which("chromium")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail("chromium not found: install Debian's package (apt-get install -y chromium) "
                "or set ESTATEFLOW_CHROMIUM", pytrace=False)


# ---------------------------------------------------------------------------
# The app behind a live server
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def live_server(demo_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The web app over the seeded demo estate, CSRF ON, served on a free local port."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs) -> None:  # keep failure output readable
            pass

    from app.settings import Settings
    from app.web import create_app

    var_dir = tmp_path_factory.mktemp("browser-var")
    settings = Settings(database_url=demo_db_url, var_dir=var_dir, secret_key="b" * 64)
    app = create_app({"TESTING": True}, settings=settings)  # WTF_CSRF_ENABLED stays True
    assert app.config["WTF_CSRF_ENABLED"] is True  # demo_db_url is already seeded

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    # payment return/callback URLs come from the configured public base URL, never from Host
    app.config["ESTATEFLOW_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, name="estateflow-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            from app.db import db

            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="module")
def demo_ids(demo_db_url: str, live_server: str) -> dict:
    """Community ids (``YC``, ``FX``) and one household per community (``FX_household`` id,
    ``FX_household_code``), read from the seeded database."""
    from app.domains.estate.models import Community, Household

    engine = create_engine(demo_db_url)
    try:
        with engine.connect() as conn:
            ids: dict[str, int | str] = {}
            for code in ("YC", "FX"):
                cid = conn.scalar(select(Community.id).where(Community.code == code))
                assert cid is not None, f"demo community {code} missing"
                ids[code] = cid
                first = conn.execute(
                    select(Household.id, Household.code)
                    .where(Household.community_id == cid).order_by(Household.id).limit(1)
                ).one()
                ids[f"{code}_household"] = first.id
                ids[f"{code}_household_code"] = first.code
        return ids
    finally:
        engine.dispose()


@pytest.fixture
def db(demo_db_url: str):
    """A session on the journey's database (to set up or check what the pages did)."""
    from sqlalchemy.orm import Session

    engine = create_engine(demo_db_url)
    with Session(engine, expire_on_commit=False) as s:
        yield s
    engine.dispose()


@pytest.fixture
def db_scalar(demo_db_url: str):
    """``db_scalar(stmt)``: read one value straight from the journey's database."""
    engine = create_engine(demo_db_url)

    def _scalar(stmt):
        with engine.connect() as conn:
            return conn.scalar(stmt)

    yield _scalar
    engine.dispose()


# ---------------------------------------------------------------------------
# Browser, contexts, pages
# ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    executable = _chromium_path()
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _open_page(browser, request, **context_options):
    context = browser.new_context(locale="zh-CN", **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        try:
            SHOTS_DIR.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^\w.\[\]-]+", "_", request.node.name)
            page.screenshot(path=str(SHOTS_DIR / f"{name}.png"), full_page=True)
        except Exception:  # a screenshot must never hide the real failure
            pass
    context.close()


@pytest.fixture
def page(browser, request):
    """A desktop-sized page in a fresh context (no cookies shared between tests)."""
    yield from _open_page(browser, request, viewport={"width": 1280, "height": 800})


@pytest.fixture
def phone_page(browser, request):
    """A phone-sized page (390x844, touch) in a fresh context."""
    yield from _open_page(browser, request, viewport={"width": 390, "height": 844},
                          is_mobile=True, has_touch=True, device_scale_factor=2)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def login(page, base: str, username: str, password: str | None = None) -> None:
    """Sign in through FAB's login form and land on the home page (``/me/`` for residents)."""
    password = password or DEMO_PASSWORDS.get(username, DEFAULT_PASSWORD)
    page.goto(f"{base}/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("form[name=login] [type=submit]")
    assert "/login" not in page.url, f"login failed for {username}: still on {page.url}"
    # staff land on the home page listing their communities, residents on their own pages
    page.wait_for_selector("#communities, #resident-tiles")


def logout(page, base: str) -> None:
    from tests.support.browser import sign_out

    sign_out(page, base)  # a POST with the CSRF token (a GET /logout/ is refused)


@pytest.fixture(name="login")
def login_fixture():
    """The ``login(page, base, username, password=None)`` helper (demo passwords by default)."""
    return login


@pytest.fixture(name="logout")
def logout_fixture():
    return logout
