"""Permission answers and rendered menus kept for a few seconds instead of asked per item.

Flask-AppBuilder asks the database whether a role set holds a permission for every menu item and
every view, on every request. The answers change only when an administrator edits roles, so they
are kept per (role set, permission, view) for ``TTL_SECONDS``; any flush that touches a role, a
permission or their link clears this process's cache at once (other processes within the TTL).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

TTL_SECONDS = 30.0
_MAX_ENTRIES = 4096


class TtlCache:
    """A small thread-safe map whose entries expire; cleared wholesale when it grows too large."""

    def __init__(self, ttl: float = TTL_SECONDS, max_entries: int = _MAX_ENTRIES) -> None:
        self.ttl, self.max_entries = ttl, max_entries
        self._data: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        now = time.monotonic()
        hit = self._data.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        value = compute()
        with self._lock:
            if len(self._data) >= self.max_entries:
                self._data.clear()
            self._data[key] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


permissions = TtlCache()
menus = TtlCache(max_entries=256)


def clear_all() -> None:
    permissions.clear()
    menus.clear()


def clear_when_roles_change(role_classes: tuple[type, ...]) -> None:
    """Clear both caches on any flush that adds, changes or deletes a role, a permission or a
    role↔permission link (``role_classes``), however it was made (admin page, CLI, code)."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    def _before_flush(session, _context, _instances) -> None:
        for obj in (*session.new, *session.dirty, *session.deleted):
            if isinstance(obj, role_classes):
                clear_all()
                return

    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
