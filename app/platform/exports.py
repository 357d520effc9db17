"""A domain's public face: the names its ``__init__`` offers to other domains, loaded lazily.

A leaf domain may use another leaf domain only through what that domain's ``__init__``
exports (the import contracts in ``pyproject.toml`` check it). The exports are resolved on
first use (PEP 562), so importing ``app.domains.fees.models`` does not pull in the whole fees
domain, and two domains that use each other's functions cannot deadlock at import time.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, names: dict[str, str]) -> tuple[list[str], Callable[[str], Any]]:
    """``names``: exported name → submodule of ``package`` that defines it."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return sorted(names), __getattr__
