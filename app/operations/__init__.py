"""Service-task operations of the platform, registered by import.

Each submodule holds a few thin operations (validate parameters, call a service).
Importing this package imports every submodule, so the engine, the validator and
the worker see the same set; a module adds a file, nothing else.
"""
from __future__ import annotations

import importlib
import pkgutil

import app.engine.operations  # noqa: F401  generic: notify.log, data.set, audit.note

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
    importlib.import_module(f"{__name__}.{_info.name}")
