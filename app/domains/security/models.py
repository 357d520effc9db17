"""Security module tables: camera alerts grouped into incidents, hydrant pressure and alarms,
door events, residents' access credentials on door controllers, and known vehicle plates.

Camera alerts are stored one row per delivered event id (``security_alert``, unique per
community), so a QoS 1 redelivery is recognised; alerts from one camera of one kind within
the module's grouping window share one ``security_incident`` and one alert process.
Face data stays with the access vendor: ``access_credential.credential`` holds a card number
or the vendor's face *reference*, never a photo (PIPL art. 28).
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model


class SecurityIncident(Model):
    """One real-world incident seen by a camera: the alerts grouped into it and its handling."""

    __tablename__ = "security_incident"
    __table_args__ = (Index("ix_security_incident_group", "community_id", "device_id", "kind", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"))
    device_code: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(30))
    location: Mapped[str] = mapped_column(String(200), default="")
    zone: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="open", doc="open, acknowledged, closed")
    first_at: Mapped[datetime] = mapped_column(DateTime)
    last_at: Mapped[datetime] = mapped_column(DateTime)
    alert_count: Mapped[int] = mapped_column(Integer, default=1)
    max_confidence: Mapped[Decimal] = mapped_column(Numeric(4, 3), default=Decimal(0))
    snapshot: Mapped[dict | None] = mapped_column(JSON, doc="upload reference of the first snapshot")
    plate: Mapped[str | None] = mapped_column(String(20))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"))
    instance_id: Mapped[int | None] = mapped_column(Integer)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_by: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(String(30), doc="false_alarm, handled, police, manager")
    outcome_note: Mapped[str | None] = mapped_column(String(1000))
    photos: Mapped[list | None] = mapped_column(JSON)


class SecurityAlert(Model):
    """One delivered camera alert (deduplicated by event id within the community)."""

    __tablename__ = "security_alert"
    __table_args__ = (UniqueConstraint("community_id", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("security_incident.id"), index=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"))
    event_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(30))
    confidence: Mapped[Decimal] = mapped_column(Numeric(4, 3))
    zone: Mapped[str | None] = mapped_column(String(100))
    plate: Mapped[str | None] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime, doc="the camera's time")
    received_at: Mapped[datetime] = mapped_column(DateTime)


class VehiclePlate(Model):
    """A vehicle registered to a household (for fire-lane / illegal parking notices)."""

    __tablename__ = "vehicle_plate"
    __table_args__ = (UniqueConstraint("community_id", "plate"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    plate: Mapped[str] = mapped_column(String(20))


class HydrantReading(Model):
    """A pressure reading of a hydrant sensor (the history chart)."""

    __tablename__ = "hydrant_reading"
    __table_args__ = (Index("ix_hydrant_reading_device_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    mpa: Mapped[Decimal] = mapped_column(Numeric(6, 3))
    battery: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime)


class HydrantAlarm(Model):
    """Low pressure or a silent sensor. ``watching``: below threshold, not yet for long
    enough; ``open``: a maintenance order was opened; ``closed``: recovered or cancelled."""

    __tablename__ = "hydrant_alarm"
    __table_args__ = (Index("ix_hydrant_alarm_device_status", "device_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(40), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    kind: Mapped[str] = mapped_column(String(20), doc="low_pressure or silent")
    status: Mapped[str] = mapped_column(String(20), default="watching")
    started_at: Mapped[datetime] = mapped_column(DateTime)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    min_mpa: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    work_order: Mapped[str | None] = mapped_column(String(60), doc="repair order number or process key")
    close_reason: Mapped[str | None] = mapped_column(String(40))


class DoorEvent(Model):
    """Every entry or refused entry reported by a door controller (searchable)."""

    __tablename__ = "door_event"
    __table_args__ = (UniqueConstraint("community_id", "event_key"),
                      Index("ix_door_event_community_at", "community_id", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"))
    device_code: Mapped[str] = mapped_column(String(60))
    event_key: Mapped[str] = mapped_column(String(64))
    credential: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10))
    granted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"))
    visitor_pass_id: Mapped[int | None] = mapped_column(Integer)


class AccessCredential(Model):
    """A resident's credential on one door controller and whether the door has it."""

    __tablename__ = "access_credential"
    __table_args__ = (UniqueConstraint("device_id", "kind", "credential"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    kind: Mapped[str] = mapped_column(String(10), doc="card or face (a vendor reference)")
    credential: Mapped[str] = mapped_column(String(120))
    wanted: Mapped[str] = mapped_column(String(20), doc="active or suspended: what the door should hold")
    status: Mapped[str] = mapped_column(String(20), default="pending",
                                        doc="pending, active, suspended, queued, failed")
    synced_at: Mapped[datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(String(500))
