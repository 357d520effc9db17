"""Issue 12, item 11: SQLite under concurrency. Every engine the app creates runs SQLite in WAL
mode with a busy timeout of several seconds; a busy database answers "busy, try again" (503,
zh/en), never a 500, and idempotent requests are retried first."""
from __future__ import annotations

import sqlite3

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from app.db import SQLITE_BUSY_TIMEOUT_MS, install_busy_handler, is_locked_error, retry_on_locked


def test_every_sqlite_engine_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_TIMEOUT_MS >= 5000
    engine.dispose()


def _locked() -> OperationalError:
    return OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))


def _app(calls: list[str]) -> Flask:
    app = Flask(__name__)

    @app.route("/thing", methods=["GET", "POST"])
    def thing():
        calls.append("x")
        raise _locked()

    @app.route("/flaky")
    def flaky():
        calls.append("x")
        if len(calls) < 2:
            raise _locked()
        return "done"

    @app.route("/api/v1/thing", methods=["PUT"])
    def api_thing():
        calls.append("x")
        raise _locked()

    @app.route("/bug")
    def bug():
        raise OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: nope"))

    install_busy_handler(app)
    return app


def test_a_locked_database_is_busy_try_again_never_a_500():
    calls: list[str] = []
    client = _app(calls).test_client()
    page = client.post("/thing")
    assert page.status_code == 503 and "busy" in page.text and page.headers["Retry-After"]
    assert len(calls) == 1  # a POST is not repeated
    calls.clear()
    api = client.put("/api/v1/thing", data=b"{}")
    assert api.status_code == 503 and api.json["message"].startswith("The system is busy")
    assert len(calls) == 3  # an idempotent request is retried before the user sees "busy"
    calls.clear()
    assert client.get("/flaky").text == "done" and len(calls) == 2


def test_other_database_errors_stay_errors():
    app = _app([])
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert app.test_client().get("/bug").status_code == 500


def test_the_busy_message_is_translated():
    import yaml

    from app.db import BUSY_MESSAGE

    with open("app/domains/devices/translations.zh.yaml", encoding="utf-8") as fh:
        assert yaml.safe_load(fh)[BUSY_MESSAGE] == "系统繁忙，请稍后再试。"


def test_retry_on_locked_retries_only_busy_errors():
    attempts: list[int] = []

    def work():
        attempts.append(1)
        if len(attempts) < 3:
            raise _locked()
        return "ok"

    assert retry_on_locked(work, delay=0.01) == "ok" and len(attempts) == 3
    assert is_locked_error(_locked())
    assert not is_locked_error(OperationalError("x", {}, sqlite3.OperationalError("no such table")))
