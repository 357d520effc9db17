"""Field devices: meters, door controllers, gates, cameras, sensors, chargers."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Model
from app.domains.estate.models import Community


class Device(Model):
    """A device and its live state. ``profile`` names a file in connectors/profiles/."""

    __tablename__ = "device"
    __table_args__ = (UniqueConstraint("community_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    profile: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(
        String(200), doc="Protocol address: 'host:port/unit' for Modbus, device id for MQTT."
    )
    location: Mapped[str | None] = mapped_column(String(200))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    status: Mapped[str] = mapped_column(String(20), default="unknown")
    last_seen: Mapped[datetime | None] = mapped_column(DateTime)
    last_value: Mapped[dict | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(String(500))

    community: Mapped[Community] = relationship()

    def __repr__(self) -> str:
        return f"{self.code} {self.name}"

    def panel_link(self):
        """List-column link to the device's live page (FAB calls model methods for columns)."""
        from markupsafe import Markup, escape

        return Markup(f'<a href="/device/{self.id}" class="device-panel-link">{escape(self.code)}</a>')


class DeviceInbox(Model):
    """One row per device event the platform has handled: the ledger that makes delivery
    idempotent. ``event_key`` is the profile's event id (``event_id:`` in the profile) or a
    hash of topic and payload; a redelivered event with a known key is acknowledged and
    skipped. The row commits in the same transaction as the handlers' writes."""

    __tablename__ = "device_inbox"
    __table_args__ = (Index("ix_device_inbox_handled_at", "handled_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_key: Mapped[str] = mapped_column(String(64), unique=True)
    community: Mapped[str] = mapped_column(String(60))
    device: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(40))
    device_at: Mapped[datetime | None] = mapped_column(DateTime)
    handled_at: Mapped[datetime] = mapped_column(DateTime)


class DeviceDeadLetter(Model):
    """A valid event that its handlers failed on again and again (a poison event): kept with
    the error, shown on the device page, never silently dropped."""

    __tablename__ = "device_dead_letter"
    __table_args__ = (Index("ix_device_dead_letter_device_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_key: Mapped[str] = mapped_column(String(64), index=True)
    community: Mapped[str] = mapped_column(String(60))
    device: Mapped[str] = mapped_column(String(100))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id", ondelete="SET NULL"))
    topic: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(DateTime)


class DeviceRejected(Model):
    """A device message the platform refused, with the reason. No device is required: messages
    from unknown devices or communities, and topics outside the layout, are kept too."""

    __tablename__ = "device_rejected"
    __table_args__ = (Index("ix_device_rejected_device_at", "device_id", "at"),
                      Index("ix_device_rejected_at", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    community: Mapped[str] = mapped_column(String(60), default="")
    device: Mapped[str] = mapped_column(String(100), default="")
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id", ondelete="SET NULL"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id", ondelete="SET NULL"), index=True)
    topic: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(String(500))
    excerpt: Mapped[str] = mapped_column(String(300), default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(DateTime)
