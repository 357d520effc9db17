"""Make SpiffWorkflow's timer events read the platform clock (``app.clock``).

Spiff's ``TimerEventDefinition`` computes due times and checks expiry with
``datetime.now(timezone.utc)`` from its module globals. We swap that module's
``datetime`` for a subclass whose ``now()`` asks ``app.clock`` (or an explicit
``fire_due_timers(now=...)`` override), so tests and the demo move time instead
of sleeping. Installed once when ``app.engine.runtime`` is imported.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime, timezone

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer

from app import clock

_override: ContextVar[datetime | None] = ContextVar("engine_now", default=None)


def platform_now() -> datetime:
    """Naive UTC now as the engine sees it."""
    return _override.get() or clock.now()


class ClockDatetime(datetime):
    """``datetime`` whose ``now()`` is the platform clock."""

    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        aware = platform_now().replace(tzinfo=timezone.utc)
        if tz is None:
            return aware.astimezone().replace(tzinfo=None)
        return aware.astimezone(tz)


@contextlib.contextmanager
def engine_now(at: datetime | None) -> Iterator[None]:
    """Run a block as if the platform clock read ``at`` (no-op for None)."""
    token = _override.set(at)
    try:
        yield
    finally:
        _override.reset(token)


def install() -> None:
    _spiff_timer.datetime = ClockDatetime


def to_naive_utc(value: str) -> datetime:
    """Spiff stores due times as ISO strings (aware); our columns are naive UTC."""
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


install()
