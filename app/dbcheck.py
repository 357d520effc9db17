"""What the command line says when the database is not there, not ours, or not migrated.

An operator who types ``estateflow serve`` against a database that is down, a role that does not
exist or a schema two revisions behind must read one line that names the problem and the
command that fixes it — not a 60-line traceback from deep inside a driver.
"""
from __future__ import annotations

import re

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

# Driver messages (psycopg 3, sqlite3) mapped to what the operator should do about them.
_REASONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r'role "([^"]+)" does not exist'),
     'database role "{0}" does not exist: create it and the database with `estateflow db create`'),
    (re.compile(r'database "([^"]+)" does not exist'),
     'database "{0}" does not exist: create it with `estateflow db create`'),
    (re.compile(r"password authentication failed for user \"([^\"]+)\""),
     'wrong password for database role "{0}": check ESTATEFLOW_DATABASE_URL'),
    (re.compile(r"no password supplied"),
     "the database asks for a password: put it in ESTATEFLOW_DATABASE_URL"),
    (re.compile(r"Connection refused|could not connect|connection failed|timeout expired", re.IGNORECASE),
     "cannot reach the database server at {where}: is PostgreSQL running and listening there?"),
    (re.compile(r"could not translate host name|Name or service not known|nodename nor servname", re.IGNORECASE),
     "unknown database host in ESTATEFLOW_DATABASE_URL ({where})"),
    (re.compile(r"unable to open database file"),
     "cannot open the SQLite file {where}: does its folder exist and is it writable?"),
    (re.compile(r"no such table: (\S+)|relation \"([^\"]+)\" does not exist"),
     "the database at {where} has no table {0}: run `estateflow init` to create or upgrade the schema"),
    (re.compile(r"permission denied for (?:database|schema|table) (\S+)"),
     "the database role may not use {0}: grant it or use the owner's role"),
]


def where(url: str) -> str:
    """``host:port/name`` of a URL, without the password, for messages."""
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - a URL we cannot even parse is reported as typed
        return "(unparseable ESTATEFLOW_DATABASE_URL)"
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    host = parsed.host or "local socket"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{host}{port}/{parsed.database or ''}"


def database_error_in(exc: BaseException) -> DBAPIError | None:
    """The driver error behind ``exc`` (raised directly or as the cause of another), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, DBAPIError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def describe(exc: BaseException, url: str) -> str | None:
    """One line for a database error the operator can fix, or None when it is not one."""
    found_error = database_error_in(exc)
    if found_error is None:
        return None
    orig = getattr(found_error, "orig", None) or found_error
    message = str(orig)
    for pattern, reason in _REASONS:
        found = pattern.search(message)
        if found:
            groups = [g for g in found.groups() if g is not None]
            return reason.format(*groups, where=where(url))
    if isinstance(found_error, OperationalError):
        first = message.strip().splitlines()[0] if message.strip() else type(orig).__name__
        return f"database error at {where(url)}: {first}"
    return None


def schema_problem(url: str) -> str | None:
    """Why the database at ``url`` cannot be used by this version yet, or None when it can.

    Compares the alembic revision stamped in the database with the newest revision shipped.
    """
    from alembic.script import ScriptDirectory

    from app.migrate import alembic_config

    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return (f"the database at {where(url)} has no estateflow schema yet: "
                        "run `estateflow init`")
            current = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    finally:
        engine.dispose()
    if current == heads:
        return None
    return (f"the database at {where(url)} is at revision {', '.join(sorted(current)) or 'none'}, "
            f"this version needs {', '.join(sorted(heads))}: run `estateflow init` to upgrade it")


def create_database(url: str, admin_url: str) -> list[str]:
    """Create the role and the database named in ``url`` on PostgreSQL, connecting as
    ``admin_url`` (a superuser or a role with CREATEROLE and CREATEDB). Idempotent: what exists
    already is left as it is. Returns what was done, one line each."""
    from psycopg import sql

    target = make_url(url)
    if target.get_backend_name() != "postgresql":
        return [f"SQLite needs no database server: {where(url)} is created by `estateflow init`"]
    role, password, name = target.username, target.password, target.database
    if not role or not name:
        raise ValueError("ESTATEFLOW_DATABASE_URL must name a user and a database")
    admin = make_url(admin_url)
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    done: list[str] = []
    try:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            has_role = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
            if has_role:
                done.append(f'role "{role}" exists')
            else:
                stmt = sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role))
                if password:
                    stmt = sql.SQL("{} PASSWORD {}").format(stmt, sql.Literal(password))
                raw.execute(stmt)
                done.append(f'role "{role}" created')
            has_db = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": name}).first()
            if has_db:
                done.append(f'database "{name}" exists')
            else:
                raw.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0").format(
                    sql.Identifier(name), sql.Identifier(role)))
                done.append(f'database "{name}" created, owned by "{role}"')
    finally:
        engine.dispose()
    return done


def default_admin_url(url: str) -> str:
    """The ``postgres`` superuser on the same server, the usual way in on a fresh machine."""
    target = make_url(url)
    return target.set(username="postgres", password=None, database="postgres").render_as_string(
        hide_password=False)
