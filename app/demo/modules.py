"""Demo state for modules: every ``app/demo/mod_*.py`` with ``seed(session)`` runs in order.

A module's demo data (enabled modules, orders in every state, bills) lives beside the
others in its own file, so modules add demo state without touching this one.
"""
from __future__ import annotations

import importlib
import pkgutil

from sqlalchemy.orm import Session


def seed_module_demo(session: Session) -> None:
    import app.demo as package

    from app.services.processes import install_hooks

    install_hooks()
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("mod_"):
            module = importlib.import_module(f"app.demo.{info.name}")
            module.seed(session)
            session.flush()
