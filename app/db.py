"""Database handle shared by the web app, the engine, the flows and the CLI.

All tables (Flask-AppBuilder's security tables and ours) live on one metadata,
``Model.metadata``, so foreign keys to ``ab_user`` work and alembic sees everything.
Services never open sessions themselves: callers pass a ``Session`` in, so a step's
domain changes and the engine state commit in one transaction.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask_appbuilder.models.sqla import Model
from flask_appbuilder.models.sqla.base import SQLA
from sqlalchemy import MetaData

db = SQLA()

__all__ = ["db", "Model", "utcnow", "MetaData"]


def utcnow() -> datetime:
    """Naive UTC now: one convention for every timestamp column (SQLite has no tz)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


# --- SQLite under concurrency -----------------------------------------------------------------
# Every SQLite connection any engine of this process opens (web app, worker, CLI, flows) runs
# in WAL mode (readers never block the writer) with a busy timeout of several seconds (a
# writer waits for another writer instead of failing at once with "database is locked").
import logging as _logging  # noqa: E402
import time as _time  # noqa: E402

from sqlalchemy import event as _event  # noqa: E402
from sqlalchemy import exc as _exc  # noqa: E402
from sqlalchemy.engine import Engine as _Engine  # noqa: E402

SQLITE_BUSY_TIMEOUT_MS = 8000
BUSY_MESSAGE = "The system is busy, please try again in a moment."
UNAVAILABLE_MESSAGE = "The database cannot be reached right now; please try again in a moment."
_log = _logging.getLogger("estateflow.db")


@_event.listens_for(_Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    import sqlite3

    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cur = dbapi_connection.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode")
        if (cur.fetchone() or ("",))[0] not in ("wal", "memory"):
            try:
                cur.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError:  # locked right now: the next connection sets it
                pass
    finally:
        cur.close()


def is_locked_error(exc: BaseException) -> bool:
    """True for a database that is busy right now (SQLite "database is locked", PostgreSQL lock
    timeouts, deadlocks and serialization failures): worth retrying, not a bug."""
    text = str(getattr(exc, "orig", exc) or exc).lower()
    if isinstance(exc, _exc.OperationalError) or "sqlite3.operationalerror" in type(getattr(exc, "orig", exc)).__module__:
        if "locked" in text or "busy" in text:
            return True
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return code in ("40001", "40P01", "55P03", "57014")


def is_connection_error(exc: BaseException) -> bool:
    """True when the database server went away or cannot be reached (restart, network)."""
    if not isinstance(exc, _exc.DBAPIError) or is_locked_error(exc):
        return False
    if exc.connection_invalidated or isinstance(exc, _exc.InterfaceError):
        return True
    code = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    text = str(getattr(exc, "orig", exc) or exc).lower()
    return code.startswith("08") or code in ("57P01", "57P02", "57P03") or any(
        hint in text for hint in ("connection refused", "server closed the connection", "could not connect",
                                  "connection failed", "terminating connection", "the database system is"))


def is_transient_error(exc: BaseException) -> bool:
    """A busy database or a lost connection: retry later; anything else is a real failure."""
    if is_locked_error(exc):
        return True
    return isinstance(exc, _exc.DBAPIError) and (exc.connection_invalidated
                                                  or isinstance(exc, (_exc.OperationalError, _exc.InterfaceError)))


def retry_on_locked(fn, *, attempts: int = 4, delay: float = 0.2):
    """Run ``fn()`` (a whole, idempotent transaction) again when the database is busy."""
    for attempt in range(attempts):
        try:
            return fn()
        except _exc.DBAPIError as exc:
            if not is_locked_error(exc) or attempt == attempts - 1:
                raise
            _log.warning("database busy, retrying (%s/%s)", attempt + 1, attempts)
            _time.sleep(delay * (2 ** attempt))
    return None


BUSY_HEADER = "X-Estateflow-Busy"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class _BusyRetry:
    """WSGI wrapper: an idempotent request that ended "busy" (see ``install_busy_handler``) is
    run again, up to ``attempts`` times, before the user sees the busy page."""

    def __init__(self, wsgi_app, attempts: int = 3, delay: float = 0.25):
        self.wsgi_app, self.attempts, self.delay = wsgi_app, attempts, delay

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD", "GET").upper() not in IDEMPOTENT_METHODS:
            return self.wsgi_app(environ, start_response)
        import io

        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        for attempt in range(self.attempts):
            captured: dict = {}

            def capture(status, headers, exc_info=None, _c=captured):
                _c["status"], _c["headers"], _c["exc_info"] = status, headers, exc_info
                return lambda _data: None

            env = dict(environ, **{"wsgi.input": io.BytesIO(body)})
            chunks = list(self.wsgi_app(env, capture))
            busy = any(k.lower() == BUSY_HEADER.lower() for k, _v in captured.get("headers", []))
            if not busy or attempt == self.attempts - 1:
                start_response(captured["status"], captured["headers"], captured.get("exc_info"))
                return chunks
            _time.sleep(self.delay * (attempt + 1))
        return []  # pragma: no cover


def install_busy_handler(app) -> None:
    """A busy database answers 503 "busy, try again" (zh/en, JSON for API calls), never a 500;
    idempotent requests are retried first. One call in the app factory."""
    from flask import jsonify, request
    from flask_babel import gettext

    def busy(exc):
        if is_locked_error(exc):
            text = BUSY_MESSAGE
        elif is_connection_error(exc):  # PostgreSQL restarting: a clean 503, the pool reconnects
            _log.warning("database unreachable: %s", str(getattr(exc, "orig", exc)).splitlines()[0][:200])
            text = UNAVAILABLE_MESSAGE
        else:
            raise exc
        try:
            message = gettext(text)
        except Exception:  # noqa: BLE001 - no Babel on this app: English
            message = text
        if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
            response = jsonify(message=message)
        else:
            response = app.response_class(
                f"<!doctype html><meta name=viewport content='width=device-width'><title>503</title>"
                f"<p>{message}</p>", mimetype="text/html")
        response.status_code = 503
        response.headers["Retry-After"] = "2"
        response.headers[BUSY_HEADER] = "1"
        return response

    app.register_error_handler(_exc.OperationalError, busy)
    app.register_error_handler(_exc.InterfaceError, busy)
    app.wsgi_app = _BusyRetry(app.wsgi_app)
