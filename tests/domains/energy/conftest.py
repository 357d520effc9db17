"""Energy tests write uploads (work-order charts, dial photos) to a private folder."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_var_dir(tmp_path, monkeypatch):
    from app.settings import get_settings

    monkeypatch.setenv("ESTATEFLOW_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
