"""Assets for the module tests: the shipped menus, with stand-ins for assets still being written."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.modules.catalog import Catalog, load_catalog
from app.settings import PROJECT_ROOT

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def shipped_root(tmp_path: Path) -> Path:
    """The repository's menus/, bpmn/ and forms/; stubs fill in files not written yet.

    The real files win over the stubs, so once the notice process and forms exist the
    test checks them, not the stand-ins.
    """
    root = tmp_path / "assets"
    shutil.copytree(FIXTURES / "stubs", root)
    for folder in ("menus", "bpmn", "forms"):
        if (PROJECT_ROOT / folder).is_dir():
            shutil.copytree(PROJECT_ROOT / folder, root / folder, dirs_exist_ok=True)
    return root


@pytest.fixture
def shipped(shipped_root: Path) -> Catalog:
    return load_catalog(shipped_root)
