"""Local time for people: the platform stores naive UTC, people read the community's clock.

One place converts between them (setting ``ESTATEFLOW_TIMEZONE``, default Asia/Shanghai),
so order numbers, reminder hours, receipts and every page agree on what "today" is.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from app import clock
from app.settings import get_settings


@lru_cache(maxsize=4)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone() -> ZoneInfo:
    return _zone(get_settings().timezone)


def to_local(at: datetime) -> datetime:
    """Naive UTC → naive local wall time."""
    return at.replace(tzinfo=timezone.utc).astimezone(zone()).replace(tzinfo=None)


def from_local(at: datetime) -> datetime:
    """Naive local wall time (e.g. typed into a form) → naive UTC."""
    return at.replace(tzinfo=zone()).astimezone(timezone.utc).replace(tzinfo=None)


def offset(at: datetime | None = None) -> timedelta:
    """Local minus UTC at ``at`` (for vectorised conversions of many timestamps)."""
    moment = (at or clock.now()).replace(tzinfo=timezone.utc)
    return moment.astimezone(zone()).utcoffset() or timedelta(0)


def local_today() -> date:
    return to_local(clock.now()).date()


def local_format(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return to_local(at).strftime(fmt) if at else "—"
