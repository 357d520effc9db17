"""Tables of the authentication hardening (migration ``0002``).

* ``auth_failure`` — one row per failed login, keyed by account and by client address. Counting
  rows in a window (not a counter in process memory) makes the lockout shared by every web
  process and every machine on the same database; inserts never conflict, so it needs no locks.
* ``user_token_version`` — a per-user number stamped into every session cookie and JWT at login
  and compared on each request. Logout and password change increase it: every session and token
  issued before stops working at once, in every process. ``stamp`` (migration ``0024``) moves on
  every change to the user's roles, groups, communities or account: a web process keeps a user's
  roles and communities between requests only while it is unchanged (``app.security.user_cache``).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow


class AuthFailure(Model):
    __tablename__ = "auth_failure"
    __table_args__ = (Index("ix_auth_failure_scope_key_at", "scope", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(8), doc="account or address")
    key: Mapped[str] = mapped_column(String(256), doc="lower-cased username, or the client address")
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class UserTokenVersion(Model):
    __tablename__ = "user_token_version"

    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    stamp: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
