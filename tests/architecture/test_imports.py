"""The import rules of docs/architecture.md hold, and a wrong arrow breaks them.

Runs import-linter's own checker on the contracts in ``pyproject.toml``; the second test
adds a module with a forbidden import (a base domain reaching into a leaf domain, the platform
importing a leaf) to a copy of the tree and proves each contract then fails.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    lint = Path(sys.executable).with_name("lint-imports")
    env = {"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "400"}
    return subprocess.run([str(lint), "--no-cache"], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=240)


def test_contracts_are_kept():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def _tree_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "static", "templates", "translations")
    for name in ("app", "workflows", "connectors"):
        shutil.copytree(ROOT / name, copy / name, ignore=ignore)
    shutil.copytree(ROOT / "tests" / "architecture", copy / "tests" / "architecture", ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


@pytest.mark.parametrize("where, code, expected", [
    ("app/domains/estate/bad_arrow.py", "from app.domains.repair.orders import create_order\n",
     "base domain estate may not import leaf domain repair"),
    ("app/engine/bad_arrow.py", "import app.domains.fees.billing\n",
     "the platform may import base domains only, not fees"),
    ("app/domains/repair/bad_arrow.py", "from app.domains.fees.models import Bill\n",
     "use what app.domains.fees exports, not its module app.domains.fees.models"),
    ("app/domains/fees/bad_arrow.py", "from app.domains.fees import billing\nimport app.domains.fees.bad_arrow_b\n",
     None),
])
def test_a_wrong_arrow_fails(tmp_path, where, code, expected):
    tree = _tree_copy(tmp_path)
    (tree / where).write_text(code)
    if expected is None:  # a cycle inside a domain: bad_arrow -> bad_arrow_b -> bad_arrow
        (tree / where).with_name("bad_arrow_b.py").write_text("import app.domains.fees.bad_arrow\n")
        expected = "No cycles are allowed in app.domains.fees"
    result = _lint(tree)
    assert result.returncode != 0
    assert expected in " ".join(result.stdout.split()), result.stdout
