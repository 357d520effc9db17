"""Immutable form versions, pinned to the process versions that use them.

A consultant may upload a changed form while instances of the old process version
still wait on it; those instances keep rendering and validating with the form
text they were deployed with, new ones get the new text.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow


class FormVersion(Model):
    __tablename__ = "form_version"
    __table_args__ = (UniqueConstraint("form_id", "content_hash"), UniqueConstraint("form_id", "version"))

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))


class ProcessFormPin(Model):
    """Process version X renders form F with form version V."""

    __tablename__ = "process_form_pin"

    process_version_id: Mapped[int] = mapped_column(ForeignKey("wf_process_version.id"), primary_key=True)
    form_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_version.id"))
