"""Fixtures for the data-only modules' end-to-end tests: a frozen clock, a private upload store."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from app import clock
from app.settings import get_settings

T0 = datetime(2026, 11, 25, 1, 0)  # 09:00 in Beijing


@pytest.fixture(autouse=True)
def frozen() -> Iterator[datetime]:
    clock.freeze(T0)
    yield T0
    clock.reset()


@pytest.fixture(autouse=True)
def uploads_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("ESTATEFLOW_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield get_settings().uploads_dir
    get_settings.cache_clear()
