"""A studio draft: a module package's files being edited in the browser."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow


class StudioDraft(Model):
    """One module's draft: ``files`` maps package-relative paths (``menus/<id>.yaml``,
    ``bpmn/<id>/x.bpmn``, ``forms/<id>/y.yaml``, …) to their text. ``base_version``: the
    published package version it started from (None for a new module)."""

    __tablename__ = "studio_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[str] = mapped_column(String(60), unique=True)
    files: Mapped[dict] = mapped_column(JSON, default=dict)
    base_version: Mapped[str | None] = mapped_column(String(20))
    updated_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
