"""A signed-in user's account, roles, groups and communities kept between requests.

Flask-AppBuilder loads the user, its roles and its groups (three queries) and the token version
(ours, one more) on every request, and the community scope adds a fifth; a JWT caller pays them on
each API call. Here a request reads **one row** instead — whether the account exists and is active,
its token version and its *security stamp* (``user_token_version.stamp``) — and takes the rest from
this process's copy made under that same (version, stamp). The stamp moves, in the same transaction,
on every flush that changes the user (roles, groups, active, password, profile), a group or role it
holds, or its community memberships (``install``), so a role taken away, a deactivated account, a
password change or a logout is seen by every process at the next request. The copy also expires
after ``TTL_SECONDS`` in case a change bypassed the ORM (raw SQL).

A copy is a detached ``User`` with its roles and groups loaded; each request gets its own instance
through ``Session.merge(load=False)`` (no query), so code that uses ``current_user`` as a model
keeps working.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import g, has_app_context
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, selectinload

from app.security.models import UserTokenVersion

TTL_SECONDS = 300.0
_MAX_ENTRIES = 10_000


@dataclass
class Entry:
    key: tuple[int, int]  # (token version, stamp)
    at: float
    user: Any  # detached User, roles and groups loaded
    communities: list[int] | None = None  # filled by app.security.scope on first use
    lock: threading.Lock = field(default_factory=threading.Lock)


#: keyed by (database, user id): one process may talk to several databases (tests on SQLite and
#: PostgreSQL, a restore into a new database), where the same user id is another account
_entries: dict[tuple[str, int], Entry] = {}
_lock = threading.Lock()


def _database(session: Session) -> str:
    """Which database a session talks to: its engine's URL and identity (a database made again at
    the same URL gets a new engine, so copies from the old one are not taken for the new one)."""
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    return f"{engine.url!r}#{id(engine)}"


@dataclass(frozen=True)
class AccountState:
    active: bool
    version: int
    stamp: int


def account_state(session: Session, user_model, user_id: int) -> AccountState | None:
    """The one query per request: None when the account does not exist."""
    row = session.execute(
        select(user_model.active, UserTokenVersion.version, UserTokenVersion.stamp)
        .select_from(user_model)
        .outerjoin(UserTokenVersion, UserTokenVersion.user_id == user_model.id)
        .where(user_model.id == user_id)).first()
    if row is None:
        return None
    return AccountState(bool(row[0]), int(row[1] or 0), int(row[2] or 0))


def _snapshot(session: Session, user_model, user_id: int) -> tuple[Any, AccountState | None]:
    """The user with roles and groups loaded, read in a session of its own and detached."""
    group_model = user_model.groups.property.mapper.class_
    with Session(bind=session.get_bind(), expire_on_commit=False) as own:
        user = own.get(user_model, user_id, options=[
            selectinload(user_model.roles),
            selectinload(user_model.groups).selectinload(group_model.roles)])
        state = account_state(own, user_model, user_id)
    return user, state


def load(session: Session, user_model, user_id: int) -> tuple[Any, AccountState | None]:
    """(the user attached to ``session``, its state), or (None, state) when it does not exist or
    is inactive. One query when this process has a current copy."""
    state = account_state(session, user_model, user_id)
    if state is None or not state.active:
        return None, state
    key = (state.version, state.stamp)
    slot = (_database(session), user_id)
    entry = _entries.get(slot)
    now = time.monotonic()
    if entry is None or entry.key != key or now - entry.at > TTL_SECONDS:
        user, own_state = _snapshot(session, user_model, user_id)
        if user is None or own_state is None or not own_state.active:
            return None, own_state
        entry = Entry((own_state.version, own_state.stamp), now, user)
        if entry.key == key:
            with _lock:
                if len(_entries) >= _MAX_ENTRIES:
                    _entries.clear()
                _entries[slot] = entry
        state = own_state
    user = session.merge(entry.user, load=False)
    if has_app_context():
        g._ef_user_entry = (user_id, entry)
    return user, state


def communities(user_id: int, compute) -> list[int]:
    """The user's community ids, kept with this request's copy of the user (``compute()`` on the
    first use under the current stamp)."""
    found = g.get("_ef_user_entry") if has_app_context() else None
    if found is None or found[0] != user_id:
        return compute()
    entry = found[1]
    if entry.communities is None:
        entry.communities = list(compute())
    return list(entry.communities)


def forget_all() -> None:
    with _lock:
        _entries.clear()


# --- the stamp moves with every change that matters -----------------------------------------------
def bump_stamps(session: Session, user_table, user_ids) -> None:
    """Move the stamp of these users (rows made where missing) in the session's transaction."""
    ids = sorted({int(i) for i in user_ids if i is not None})
    if not ids:
        return
    connection = session.connection()
    table = UserTokenVersion.__table__
    have = set(connection.scalars(select(table.c.user_id).where(table.c.user_id.in_(ids))))
    missing = [i for i in ids if i not in have]
    if missing:
        existing = set(connection.scalars(select(user_table.c.id).where(user_table.c.id.in_(missing))))
        rows = [{"user_id": i, "version": 0, "stamp": 1} for i in missing if i in existing]
        if rows:
            connection.execute(table.insert(), rows)
    if have:
        connection.execute(update(table).where(table.c.user_id.in_(sorted(have)))
                           .values(stamp=table.c.stamp + 1))
    database = _database(session)
    with _lock:
        for i in ids:
            _entries.pop((database, i), None)


_PENDING = "ef_stamp_users"
_models: tuple | None = None  # (user, role, group, membership) classes, set by ``install``


def install(user_model, role_model, group_model, membership_model) -> None:
    """Bump the stamp on every flush that touches a user, its roles, groups or memberships: the
    users are collected before the flush (a deleted role's holders are still linked then), their
    stamps moved after it, in the same transaction."""
    global _models
    _models = (user_model, role_model, group_model, membership_model)
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_flush", _after_flush)


def _before_flush(session: Session, _context, _instances) -> None:
    if _models is None:
        return
    user_model, role_model, group_model, membership_model = _models
    users: set[int] = set()
    roles: set[int] = set()
    groups: set[int] = set()
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, user_model):
            if obj not in session.deleted and session.is_modified(obj):
                users.add(obj.id)  # a deleted account: the account query finds no row
        elif isinstance(obj, role_model):
            if obj in session.deleted or session.is_modified(obj, include_collections=False):
                roles.add(obj.id)
        elif isinstance(obj, group_model):
            groups.add(obj.id)
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, membership_model):
            users.add(obj.user_id)
    if not (users or roles or groups):
        return
    connection = session.connection()
    if roles:
        link = user_model.roles.property.secondary
        users.update(connection.scalars(select(link.c.user_id).where(link.c.role_id.in_(roles))))
    if groups:
        link = user_model.groups.property.secondary
        users.update(connection.scalars(select(link.c.user_id).where(link.c.group_id.in_(groups))))
    session.info.setdefault(_PENDING, set()).update(users)


def _after_flush(session: Session, _context) -> None:
    users = session.info.pop(_PENDING, None)
    if users and _models is not None:
        bump_stamps(session, _models[0].__table__, users)
