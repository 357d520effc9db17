"""Shared fixtures for domain tests."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def build_estate():
    """``build_estate(session, modules=[...])``: the security/visitors test estate."""
    from tests.support.security_estate import build_estate

    return build_estate
