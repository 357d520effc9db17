"""Per-user token version: logout and password change end every session and token at once.

At login the user's current version is stamped into the session cookie (``_ef_tv``) and into
every JWT (claim ``tv``). Each request compares the stamp with the number in the database
(``user_token_version``, no row = 0); a stale one is treated as not logged in. Bumping the
number therefore signs the user out in every browser, every API client and every web process.
"""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.security.models import UserTokenVersion

SESSION_KEY = "_ef_tv"
CLAIM = "tv"


def current_version(session: Session, user_id: int) -> int:
    version = session.scalar(select(UserTokenVersion.version).where(UserTokenVersion.user_id == user_id))
    return int(version or 0)


def bump(session: Session, user_id: int) -> int:
    """Invalidate every session and token of this user; returns the new version."""
    updated = session.execute(update(UserTokenVersion).where(UserTokenVersion.user_id == user_id)
                              .values(version=UserTokenVersion.version + 1))
    if not updated.rowcount:
        session.add(UserTokenVersion(user_id=user_id, version=1))
    session.flush()
    return current_version(session, user_id)
