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


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ("", "拾", "佰", "仟")
_SECTIONS = ("", "万", "亿", "万亿")


def capitals(cents: int) -> str:
    """The amount in Chinese capitals (大写金额) as receipts and bank forms write it:
    ``12005`` → ``壹佰贰拾元零伍分``, ``10000`` → ``壹佰元整``, ``50`` → ``伍角``.

    The rules of the People's Bank of China's 支付结算办法: 整 after 元 when there are no
    角 and 分 (none after 分); a run of zeros inside the number is one 零; 零 after 元 when
    角 is 0 but 分 is not; 壹拾 (not 拾) for a leading ten; 负 for a negative amount.
    """
    cents = int(cents)
    sign = "负" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    jiao, fen = divmod(frac, 10)
    if whole >= 10 ** 16:
        raise ValueError(f"amount too large for capitals: {cents}")
    out = ""
    if whole:
        digits = str(whole)
        zero_pending, section_used = False, False
        for k, ch in enumerate(digits):
            place = len(digits) - 1 - k
            if place % 4 == 3 or k == 0:
                section_used = False
            if ch == "0":
                zero_pending = True
            else:
                if zero_pending and out:
                    out += "零"
                zero_pending, section_used = False, True
                out += _DIGITS[int(ch)] + _UNITS[place % 4]
            if place % 4 == 0 and place and section_used:
                out += _SECTIONS[place // 4]
        out += "元"
    if not jiao and not fen:
        return sign + (out or "零元") + "整"
    if jiao:
        out += _DIGITS[jiao] + "角"
    elif whole:
        out += "零"
    if fen:
        out += _DIGITS[fen] + "分"
    return sign + out
