"""Tables owned by the connectors: meter readings, device errors, the command outbox.

Only ``good`` readings are stored in ``meter_reading`` (they are billable); flagged values
(out of range, backwards), timeouts and malformed messages go to ``device_error`` with what
was seen, so an operator can see why a meter has no reading.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model


class MeterReading(Model):
    """A good (billable) meter reading."""

    __tablename__ = "meter_reading"
    __table_args__ = (Index("ix_meter_reading_device_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    register: Mapped[str] = mapped_column(String(40), default="")
    value: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    unit: Mapped[str] = mapped_column(String(20))
    quality: Mapped[str] = mapped_column(String(20), default="good")
    at: Mapped[datetime] = mapped_column(DateTime)


class DeviceError(Model):
    """Something wrong seen on a device: timeout, implausible value, malformed message."""

    __tablename__ = "device_error"
    __table_args__ = (Index("ix_device_error_device_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    kind: Mapped[str] = mapped_column(String(30))
    message: Mapped[str] = mapped_column(String(500))
    value: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    at: Mapped[datetime] = mapped_column(DateTime)


class DeviceCommand(Model):
    """A command for an MQTT device: ``pending``, ``sending`` once one connection claimed it
    (atomically), then delivered or failed; back to ``pending`` if its ack did not come."""

    __tablename__ = "device_command"
    __table_args__ = (Index("ix_device_command_device_status", "device_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    command: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(String(500))
    claimed_at: Mapped[datetime | None] = mapped_column(
        DateTime, doc="Set atomically by the connection that sends it (status 'sending').")
    claimed_by: Mapped[str | None] = mapped_column(String(64))
