"""Where commands for offline devices wait. The connector talks to this small interface; the
durable implementation is a database table behind ``app.domains.devices.registry.SessionOutbox``.
``MemoryOutbox`` is for tools and tests that need no persistence."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class OutboxItem:
    request_id: str
    community: str
    device: str
    command: str
    params: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0


class Outbox(Protocol):
    def add(self, item: OutboxItem) -> None: ...

    def pending(self, community: str, device: str) -> list[OutboxItem]: ...

    def delivered(self, request_id: str, ok: bool, result: dict | None, error: str | None) -> None: ...

    def attempted(self, request_id: str, error: str) -> None: ...

    def claim(self, request_id: str, owner: str) -> bool:
        """Atomically take a pending command for sending; False if someone else has it.
        ``attempted`` gives it back (no ack), ``delivered`` closes it."""
        ...


class MemoryOutbox:
    """An in-process outbox (lost on restart)."""

    def __init__(self) -> None:
        self._items: dict[str, OutboxItem] = {}
        self._claimed: set[str] = set()
        self.done: dict[str, tuple[bool, dict | None, str | None]] = {}
        self._lock = threading.Lock()

    def add(self, item: OutboxItem) -> None:
        with self._lock:
            self._items[item.request_id] = item

    def pending(self, community: str, device: str) -> list[OutboxItem]:
        with self._lock:
            return [i for i in self._items.values() if (i.community, i.device) == (community, device)]

    def delivered(self, request_id: str, ok: bool, result: dict | None, error: str | None) -> None:
        with self._lock:
            self._items.pop(request_id, None)
            self._claimed.discard(request_id)
            self.done[request_id] = (ok, result, error)

    def claim(self, request_id: str, owner: str) -> bool:
        with self._lock:
            if request_id not in self._items or request_id in self._claimed:
                return False
            self._claimed.add(request_id)
            return True

    def attempted(self, request_id: str, error: str) -> None:
        with self._lock:
            self._claimed.discard(request_id)
            if request_id in self._items:
                self._items[request_id].attempts += 1
