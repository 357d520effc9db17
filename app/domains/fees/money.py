"""元 <-> 分: parsing what people type and printing what they read. Never float."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation


class BadAmount(ValueError):
    """Not a positive amount of 元 with at most two decimals."""


def parse_yuan(text: str | Decimal | int, *, allow_zero: bool = False) -> int:
    """``"12.30"`` -> 1230 cents; refuses negatives, more than 2 decimals, junk."""
    try:
        value = Decimal(str(text).strip().replace(",", "").replace("¥", "").replace("元", ""))
    except (InvalidOperation, ValueError):
        raise BadAmount(str(text)) from None
    if not value.is_finite() or value < 0 or (value == 0 and not allow_zero):
        raise BadAmount(str(text))
    cents = value * 100
    if cents != cents.to_integral_value():
        raise BadAmount(str(text))
    if cents > 10**11:
        raise BadAmount(str(text))
    return int(cents)


def yuan(cents: int) -> str:
    """1234567 -> ``"12,345.67"`` (two decimals, thousands separators)."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(int(cents)), 100)
    return f"{sign}{whole:,}.{frac:02d}"
