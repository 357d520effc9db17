"""The temporary-parking fee: a pure function of the stay and the rule (no database, no clock).

In this order (each step a setting of the parking module):

1. the first ``free_minutes`` of a stay are free; a stay no longer than that costs nothing;
2. the next hour (or the part of it the car stayed) costs ``first_hour_cents``;
3. every further started hour costs ``hourly_cents``, or ``night_hourly_cents`` when the hour
   starts inside the night window (``night_start_hour`` to ``night_end_hour``, local wall-clock
   hours; the window may wrap midnight; equal hours mean no night window);
4. the stay is cut into 24-hour periods counted from the entry; what the blocks starting in
   one period cost together is capped at ``day_cap_cents`` (0: no cap).

Money is integer cents. A stay that ends before it starts (clock skew between the gate and
the server) is refused with ``NegativeDuration``: never silently free.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)


class NegativeDuration(ValueError):
    """The exit is before the entry: the gate's and the server's clocks disagree."""


@dataclass(frozen=True)
class FeeRule:
    free_minutes: int = 30
    first_hour_cents: int = 500
    hourly_cents: int = 300
    night_hourly_cents: int = 100
    night_start_hour: int = 22
    night_end_hour: int = 7
    day_cap_cents: int = 3000

    def __post_init__(self) -> None:
        for name in ("free_minutes", "first_hour_cents", "hourly_cents", "night_hourly_cents",
                     "day_cap_cents"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
        for name in ("night_start_hour", "night_end_hour"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 23:
                raise ValueError(f"{name} must be an hour 0-23, got {value!r}")

    def is_night(self, at: datetime) -> bool:
        start, end = self.night_start_hour, self.night_end_hour
        if start == end:
            return False
        if start < end:
            return start <= at.hour < end
        return at.hour >= start or at.hour < end

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> FeeRule:
        """The rule from the parking module's typed settings (money as Decimal yuan)."""

        def cents(name: str) -> int:
            return int((Decimal(str(settings[name])) * 100).to_integral_value())

        return cls(free_minutes=int(settings["free_minutes"]), first_hour_cents=cents("first_hour_price"),
                   hourly_cents=cents("hourly_price"), night_hourly_cents=cents("night_hourly_price"),
                   night_start_hour=int(settings["night_start_hour"]),
                   night_end_hour=int(settings["night_end_hour"]), day_cap_cents=cents("day_cap"))


@dataclass(frozen=True)
class Block:
    """One charged block of the stay: where it starts, what it is, what it costs."""

    start: datetime
    kind: str  # first_hour, day, night
    cents: int


@dataclass(frozen=True)
class Fee:
    cents: int
    minutes: int
    blocks: tuple[Block, ...] = field(default_factory=tuple)
    capped_days: int = 0

    def explanation(self) -> dict[str, Any]:
        """What a driver or an auditor reads: inputs and the sum, in cents."""
        counts: dict[str, int] = {}
        for b in self.blocks:
            counts[b.kind] = counts.get(b.kind, 0) + 1
        return {"minutes": self.minutes, "cents": self.cents, "blocks": counts, "capped_days": self.capped_days}


def parking_fee(entry: datetime, exit: datetime, rule: FeeRule) -> Fee:
    """The fee of a stay from ``entry`` to ``exit`` (both local wall-clock time, same zone)."""
    if exit < entry:
        raise NegativeDuration(f"exit {exit:%Y-%m-%d %H:%M:%S} is before entry {entry:%Y-%m-%d %H:%M:%S}")
    stay = exit - entry
    minutes = int(stay.total_seconds() // 60)
    free = timedelta(minutes=rule.free_minutes)
    if stay <= free:
        return Fee(0, minutes)
    blocks: list[Block] = []
    at = entry + free
    blocks.append(Block(at, "first_hour", rule.first_hour_cents))
    at += HOUR
    while at < exit:
        night = rule.is_night(at)
        blocks.append(Block(at, "night" if night else "day", rule.night_hourly_cents if night else rule.hourly_cents))
        at += HOUR
    periods: dict[int, int] = {}
    for b in blocks:
        index = int((b.start - entry) // DAY)
        periods[index] = periods.get(index, 0) + b.cents
    capped = 0
    total = 0
    for cents in periods.values():
        if rule.day_cap_cents and cents > rule.day_cap_cents:
            capped += 1
            cents = rule.day_cap_cents
        total += cents
    return Fee(total, minutes, tuple(blocks), capped)
