"""Notifications sent to people, one row per recipient and channel; each person's channel choice."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow


class Notification(Model):
    """One message to one recipient over one channel. ``in_app`` rows are the inbox and are
    ``sent`` at once; ``sms``/``wechat`` rows are an outbox: ``queued`` until the worker's
    delivery sweep sends them, ``retrying`` (``next_attempt_at``) after a failure that may pass,
    ``failed`` for good with ``reason`` (a key of ``delivery.REASONS``) and ``error`` (detail)."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_unread", "user_id", "read_at"),
                      Index("ix_notification_due", "status", "next_attempt_at"))

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
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    reason: Mapped[str | None] = mapped_column(String(30))
    provider_ref: Mapped[str | None] = mapped_column(String(80), doc="the provider's message id (SerialNo, msgid)")


class NotificationPreference(Model):
    """A login's choice of the channels beyond the app. Each is off until the person turns it on
    themselves, which is their consent (kept with its time); turning it off withdraws it."""

    __tablename__ = "notification_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True)
    sms: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    sms_consent_at: Mapped[datetime | None] = mapped_column(DateTime)
    wechat: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    wechat_consent_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
