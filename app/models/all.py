"""Import every module that declares tables, so ``Model.metadata`` is complete.

Alembic, ``estateflow init`` and the tests call ``import_all_models()``. Every module
in ``app/models/`` is imported automatically (a new module adds a file, nothing else);
tables living beside their package (engine, connectors) are listed here.
"""
from __future__ import annotations

import importlib
import pkgutil

from sqlalchemy import MetaData

_ELSEWHERE = ("app.engine.models", "connectors.models", "app.security.models")


def import_all_models() -> MetaData:
    import flask_appbuilder.security.sqla.models  # noqa: F401  (ab_user, ab_role, ...)

    import app.models
    from app.db import Model

    for info in pkgutil.iter_modules(app.models.__path__):
        if info.name != "all":
            importlib.import_module(f"app.models.{info.name}")
    for name in _ELSEWHERE:
        importlib.import_module(name)
    return Model.metadata
