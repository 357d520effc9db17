"""Local calendar months as the inspection pages and reports use them (``YYYY-MM``)."""
from __future__ import annotations

from datetime import date, datetime

from app.localtime import from_local, local_today, to_local


def month_bounds(period: str | None = None) -> tuple[str, datetime, datetime]:
    """``YYYY-MM`` (default this month, local) → (period, start, end) as naive UTC."""
    if not period:
        today = local_today()
        period = f"{today.year:04d}-{today.month:02d}"
    year, month = (int(x) for x in period.split("-"))
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        raise ValueError(period)
    start = from_local(datetime(year, month, 1))
    end = from_local(datetime(year + (month == 12), month % 12 + 1, 1))
    return f"{year:04d}-{month:02d}", start, end


def months_back(n: int = 6) -> list[str]:
    today: date = local_today()
    out, y, m = [], today.year, today.month
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out


def period_of(at: datetime) -> str:
    """The local month ``YYYY-MM`` holding the UTC time ``at``."""
    return to_local(at).strftime("%Y-%m")
