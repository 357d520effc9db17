"""Shared fixtures for service tests."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def _helper(name: str):
    """Load a helper module beside this file (test helpers are not importable packages)."""
    key = f"tests_services_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).with_name(f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


@pytest.fixture(scope="session")
def build_estate():
    """``build_estate(session, modules=[...])``: the security/visitors test estate."""
    return _helper("_security_estate").build_estate
