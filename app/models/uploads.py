"""Who may see a stored file: uploads are content-addressed, access is per community."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow


class UploadGrant(Model):
    """A stored file (by sha256) became part of a record in this community."""

    __tablename__ = "upload_grant"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(80))
    granted_by: Mapped[str | None] = mapped_column(String(100))
    granted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
