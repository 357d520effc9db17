"""Service-task operations of the platform, registered by import.

Each submodule holds a few thin operations (validate parameters, call a service).
Importing this package registers them all, so the engine, the validator and the
worker see the same set.
"""
from __future__ import annotations

import app.engine.operations  # noqa: F401  generic: notify.log, data.set, audit.note
import app.operations.notify  # noqa: F401  notify.send
