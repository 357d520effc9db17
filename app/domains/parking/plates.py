"""Licence plates as gates read them: normalised, checked, or refused.

A Chinese plate is a province character, a letter (the issuing office), then 5 characters
(6 for new-energy cars); the letters I and O are never used. The last character may be one
of 挂学警港澳. Separators a camera adds (space, ``·``, ``-``) are dropped.
"""
from __future__ import annotations

import re

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_LETTER = "A-HJ-NP-Z"
_PLATE = re.compile(rf"^[{PROVINCES}][{_LETTER}][{_LETTER}0-9]{{4,5}}[{_LETTER}0-9挂学警港澳]$")
_SEPARATORS = re.compile(r"[\s·\-.]")


def normalise_plate(text: object) -> str | None:
    """``"京a·12345"`` → ``"京A12345"``; None when it is not a plate."""
    if not isinstance(text, str):
        return None
    plate = _SEPARATORS.sub("", text).upper()
    return plate if _PLATE.match(plate) else None
