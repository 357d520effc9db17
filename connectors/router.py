"""The one place inbound device messages go: validated events are routed to handlers.

Connectors (MQTT today) turn a message into an ``InboundEvent`` and call ``dispatch``; the
engine registers handlers by event type (``entry``), by capability (``camera.alert``) or for
everything (``*``). A failing handler is logged and counted; it never stops the consumer.
"""
from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

ALL = "*"


@dataclass(frozen=True)
class InboundEvent:
    """A validated event from a device."""

    community: str
    device: str
    type: str
    payload: dict[str, Any]
    profile: str
    capability: str | None
    received_at: datetime
    topic: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[InboundEvent], Any]


class InboundRouter:
    """Routes events to the handlers registered for their type, capability or ``*``."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._lock = threading.Lock()
        self.stats: Counter[str] = Counter()

    def register(self, key: str, handler: Handler) -> Handler:
        """Call ``handler`` for events whose type or capability is ``key`` (``*``: all)."""
        with self._lock:
            self._handlers[key].append(handler)
        return handler

    def unregister(self, key: str, handler: Handler) -> None:
        with self._lock:
            if handler in self._handlers.get(key, []):
                self._handlers[key].remove(handler)

    def handlers_for(self, event: InboundEvent) -> list[Handler]:
        keys = [event.type]
        if event.capability and event.capability != event.type:
            keys.append(event.capability)
        keys.append(ALL)
        with self._lock:
            found: list[Handler] = []
            for key in keys:
                for h in self._handlers.get(key, ()):
                    if h not in found:
                        found.append(h)
            return found

    def dispatch(self, event: InboundEvent) -> int:
        """Hand ``event`` to every matching handler; returns how many ran without error."""
        handlers = self.handlers_for(event)
        if not handlers:
            self.stats["unhandled"] += 1
        ok = 0
        for handler in handlers:
            try:
                handler(event)
                ok += 1
            except Exception:  # noqa: BLE001 - a handler bug must not stop the consumer
                self.stats["handler_errors"] += 1
                log.exception("handler %r failed on %s event from %s/%s (%s)", handler,
                              event.type, event.community, event.device, event.topic)
        self.stats["dispatched"] += 1
        return ok
