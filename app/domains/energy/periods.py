"""Months as 'YYYY-MM' and their bounds (UTC-naive timestamps, local month boundaries)."""
from __future__ import annotations

import re
from datetime import datetime

from app.domains.energy.errors import EnergyError
from app.localtime import from_local

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def bounds(period: str) -> tuple[datetime, datetime]:
    """The month's start and end as stored timestamps (local midnight of the 1st)."""
    m = _PERIOD.match(period or "")
    if not m:
        raise EnergyError("bad_period")
    year, month = int(m.group(1)), int(m.group(2))
    nxt = (year + (month == 12), month % 12 + 1)
    return from_local(datetime(year, month, 1)), from_local(datetime(nxt[0], nxt[1], 1))


def previous(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return f"{year - (month == 1)}-{(month - 2) % 12 + 1:02d}"
