"""Database handle shared by the web app, the engine, the flows and the CLI.

All tables (Flask-AppBuilder's security tables and ours) live on one metadata,
``Model.metadata``, so foreign keys to ``ab_user`` work and alembic sees everything.
Services never open sessions themselves: callers pass a ``Session`` in, so a step's
domain changes and the engine state commit in one transaction.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask_appbuilder.models.sqla import Model
from flask_appbuilder.models.sqla.base import SQLA
from sqlalchemy import MetaData

db = SQLA()

__all__ = ["db", "Model", "utcnow", "MetaData"]


def utcnow() -> datetime:
    """Naive UTC now: one convention for every timestamp column (SQLite has no tz)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)
