"""Notifications sent to people, one row per recipient and channel."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow


class Notification(Model):
    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(20))
    template: Mapped[str] = mapped_column(String(120))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(5), default="zh")
    status: Mapped[str] = mapped_column(String(12), default="sent")
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)
