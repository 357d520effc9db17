"""Field devices: meters, door controllers, gates, cameras, sensors, chargers."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String, UniqueConstraint
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
