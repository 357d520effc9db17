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
    severity: str = "error"
    """``"error"`` refuses the asset; ``"warning"`` is reported and the asset is accepted."""

    @property
    def is_warning(self) -> bool:
        return self.severity == "warning"

    def __str__(self) -> str:
        prefix = "warning: " if self.is_warning else ""
        return f"{self.file}:{self.line}: {self.element}: {prefix}{self.reason}"


def warning(file: str, line: int, element: str, reason: str) -> AssetError:
    """A finding that does not refuse the asset (printed with ``warning:``)."""
    return AssetError(file, line, element, reason, "warning")


class AssetInvalid(Exception):
    """Raised when an asset cannot be used; carries every error found, not only the first."""

    def __init__(self, errors: list[AssetError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
