"""Login rate limit and temporary lockout, per account and per client address.

The counters are rows of ``auth_failure`` in the application database, so every web process
(gunicorn workers, several machines) sees the same numbers — Flask-Limiter's in-memory storage
would give each process its own count, and the deployment has no Redis.

A key (an account name, or an address) is locked while it has at least *max* failures in the
last ``login_window_seconds``; the lock lifts ``login_lockout_seconds`` after the latest of them.
While locked, the password is not even checked, so guessing gains nothing. A successful login
clears the account's failures (not the address's: one good password must not reset an
address that is trying many accounts).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.security.models import AuthFailure
from app.settings import Settings

ACCOUNT = "account"
ADDRESS = "address"


@dataclass(frozen=True)
class Lockout:
    scope: str
    retry_after: int  # seconds


def _keys(username: str | None, address: str | None) -> list[tuple[str, str]]:
    keys = []
    if username:
        keys.append((ACCOUNT, username.strip().lower()[:256]))
    if address:
        keys.append((ADDRESS, address[:256]))
    return keys


def _limit(settings: Settings, scope: str) -> int:
    return settings.login_max_failures_account if scope == ACCOUNT else settings.login_max_failures_address


def check(session: Session, settings: Settings, username: str | None, address: str | None) -> Lockout | None:
    """The lockout that applies to this login attempt, or ``None``."""
    now = utcnow()
    since = now - timedelta(seconds=settings.login_window_seconds)
    for scope, key in _keys(username, address):
        count, latest = session.execute(
            select(func.count(), func.max(AuthFailure.at))
            .where(AuthFailure.scope == scope, AuthFailure.key == key, AuthFailure.at > since)
        ).one()
        if count >= _limit(settings, scope):
            until = latest + timedelta(seconds=settings.login_lockout_seconds)
            if until > now:
                return Lockout(scope, max(1, int((until - now).total_seconds()) + 1))
    return None


def record_failure(session: Session, settings: Settings, username: str | None, address: str | None) -> None:
    now = utcnow()
    for scope, key in _keys(username, address):
        session.add(AuthFailure(scope=scope, key=key, at=now))
    # keep the table small: anything older than window + lockout no longer matters
    horizon = now - timedelta(seconds=settings.login_window_seconds + settings.login_lockout_seconds)
    session.execute(delete(AuthFailure).where(AuthFailure.at < horizon))
    session.commit()


def record_success(session: Session, username: str | None) -> None:
    if not username:
        return
    session.execute(delete(AuthFailure).where(AuthFailure.scope == ACCOUNT,
                                              AuthFailure.key == username.strip().lower()[:256]))
    session.commit()
