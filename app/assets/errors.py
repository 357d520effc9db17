"""One error type for every asset problem, printed as ``file:line: element: reason``."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AssetError:
    """A problem in a module asset, located precisely enough to fix it in an editor."""

    file: str
    line: int
    element: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.element}: {self.reason}"


class AssetInvalid(Exception):
    """Raised when an asset cannot be used; carries every error found, not only the first."""

    def __init__(self, errors: list[AssetError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
