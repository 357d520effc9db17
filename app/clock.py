"""The platform clock: real time in production, controllable in tests and the demo.

SLA timers, due dates and late fees all read ``now()`` so a test can move time
forward (``advance``) instead of sleeping.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from app.db import utcnow

_offset = timedelta(0)
_frozen: datetime | None = None


def now() -> datetime:
    """Naive UTC 'now' as the platform sees it."""
    if _frozen is not None:
        return _frozen
    return utcnow() + _offset


def freeze(at: datetime) -> None:
    """Stop the clock at ``at`` (tests)."""
    global _frozen
    _frozen = at


def advance(delta: timedelta) -> datetime:
    """Move platform time forward; works frozen or running."""
    global _frozen, _offset
    if _frozen is not None:
        _frozen += delta
    else:
        _offset += delta
    return now()


def reset() -> None:
    """Back to real time."""
    global _frozen, _offset
    _frozen = None
    _offset = timedelta(0)
