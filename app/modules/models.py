"""Which modules a community has enabled, at which version, with which settings."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow


class ModuleActivation(Model):
    __tablename__ = "module_activation"
    __table_args__ = (UniqueConstraint("community_id", "module_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    module_id: Mapped[str] = mapped_column(String(60))
    version: Mapped[str] = mapped_column(String(20))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    changed_by: Mapped[str | None] = mapped_column(String(100))
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ModulePackage(Model):
    """One uploaded module package version: every file of it, immutable once stored.

    ``files`` maps the package-relative path (``menus/<id>.yaml``, ``bpmn/<id>/x.bpmn``,
    ``forms/<id>/y.yaml``, ``menus/notifications/<id>.yaml``, ``connectors/profiles/z.yaml``)
    to its text. ``content_hash`` covers every path and text, so the same id+version with
    other content is refused.
    """

    __tablename__ = "module_package"
    __table_args__ = (UniqueConstraint("module_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[str] = mapped_column(String(60), index=True)
    version: Mapped[str] = mapped_column(String(20))
    content_hash: Mapped[str] = mapped_column(String(64))
    files: Mapped[dict] = mapped_column(JSON, default=dict)
    #: process id -> the process version number deployed with this package version
    processes: Mapped[dict] = mapped_column(JSON, default=dict)
    uploaded_by: Mapped[str | None] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
