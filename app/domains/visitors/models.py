"""Visitor passes: a host household invites a visitor for a time window and a number of
entries; the QR code carries a signed token naming the pass (``token_id``), checked by the
platform when a door reads it. Every check, admitted or refused, is logged with its reason."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model


class VisitorPass(Model):
    __tablename__ = "visitor_pass"
    __table_args__ = (Index("ix_visitor_pass_community_code", "community_id", "short_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(40), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    visitor_name: Mapped[str] = mapped_column(String(100))
    visitor_phone: Mapped[str | None] = mapped_column(String(30))
    plate: Mapped[str | None] = mapped_column(String(12), doc="the visitor's car: the parking gate opens for it")
    valid_from: Mapped[datetime] = mapped_column(DateTime)
    valid_until: Mapped[datetime] = mapped_column(DateTime)
    entries_allowed: Mapped[int] = mapped_column(Integer)
    entries_used: Mapped[int] = mapped_column(Integer, default=0)
    token_id: Mapped[str] = mapped_column(String(32), unique=True)
    short_code: Mapped[str | None] = mapped_column(
        String(6), doc="6 digits the visitor can type at the door; unique among the community's valid passes")
    status: Mapped[str] = mapped_column(String(20), doc="pending_approval, active, rejected, revoked")
    source: Mapped[str] = mapped_column(String(20), default="invite", doc="invite or walk_in")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_entry_at: Mapped[datetime | None] = mapped_column(DateTime)


class PassCheck(Model):
    """One validation of a pass at a door: admitted or refused, and why."""

    __tablename__ = "visitor_pass_check"
    __table_args__ = (Index("ix_visitor_pass_check_community_at", "community_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"))
    device_code: Mapped[str] = mapped_column(String(60))
    pass_id: Mapped[int | None] = mapped_column(ForeignKey("visitor_pass.id"))
    ok: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(DateTime)
