"""Refusals a person reads: a code, its parameters, and the sentence in zh or en."""
from __future__ import annotations

from typing import ClassVar


class ParkingError(ValueError):
    """Subclasses set ``MESSAGES = {code: (zh, en)}``; ``message(locale)`` says why."""

    MESSAGES: ClassVar[dict[str, tuple[str, str]]] = {}

    def __init__(self, code: str, **params):
        self.code, self.params = code, params
        super().__init__(self.message("en"))

    def message(self, locale: str = "zh") -> str:
        zh, en = self.MESSAGES[self.code]
        return (en if locale.startswith("en") else zh).format(**self.params)
