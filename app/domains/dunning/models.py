"""Door-access suspensions for arrears: opt-in, approved, announced, reversible, audited.

One row per dunning instance that reached an approved suspension. ``status``:
scheduled (announced, waiting for its date), active (credentials suspended at the doors),
restored (paid: credentials active again), cancelled (paid or closed before the date).
Water, power, heat and gas are never touched (Civil Code art. 944): there is no such row.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow


class DoorSuspension(Model):
    __tablename__ = "door_suspension"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    bill_number: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    suspend_at: Mapped[datetime] = mapped_column(DateTime, doc="announced date (naive UTC)")
    approved_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(300))
    credentials: Mapped[list[str]] = mapped_column(JSON, default=list)
    commands: Mapped[list[dict]] = mapped_column(JSON, default=list, doc="device, command, status per send")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime)
    restored_at: Mapped[datetime | None] = mapped_column(DateTime)
