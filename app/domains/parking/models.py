"""Parking: spaces, permits and the waiting list, temporary tickets, every plate read at a
gate, the guard's plate reviews, and EV charging sessions.

Times are naive UTC like everywhere else; money is integer cents.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Model, utcnow


class ParkingSpace(Model):
    """A space of the community: ``fixed`` (one permit holder) or ``shared`` (any permit
    holder), with or without a charger."""

    __tablename__ = "parking_space"
    __table_args__ = (UniqueConstraint("community_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    code: Mapped[str] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(10), default="shared", doc="fixed, shared")
    has_charger: Mapped[bool] = mapped_column(Boolean, default=False)
    charger_device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ParkingPermit(Model):
    """A monthly or annual permit of a household for one plate, billed through fees."""

    __tablename__ = "parking_permit"
    __table_args__ = (Index("ix_parking_permit_community_plate", "community_id", "plate"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    plate: Mapped[str] = mapped_column(String(12))
    space_id: Mapped[int | None] = mapped_column(ForeignKey("parking_space.id"))
    kind: Mapped[str] = mapped_column(String(10), doc="monthly, annual")
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date, doc="last day the permit is valid (local date)")
    price_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="active", doc="active, cancelled")
    bill_number: Mapped[str | None] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ParkingWaitlist(Model):
    """A household waiting for a space when none is free (first come, first served)."""

    __tablename__ = "parking_waitlist"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    plate: Mapped[str] = mapped_column(String(12))
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default="waiting", doc="waiting, granted, cancelled")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    permit_id: Mapped[int | None] = mapped_column(ForeignKey("parking_permit.id"))


class ParkingTicket(Model):
    """One temporary car's stay: entry, exit, the fee, its payment order and the gate.

    ``status``: parked, awaiting_payment (fee due at the exit), paid, exited (left; nothing
    due or paid), lost (a new entry of the plate replaced a ticket that never exited).
    The payment order belongs to the ticket (``out_trade_no``), not to a household."""

    __tablename__ = "parking_ticket"
    __table_args__ = (Index("ix_parking_ticket_community_plate_status", "community_id", "plate", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    plate: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(20), default="parked")
    kind: Mapped[str] = mapped_column(String(10), default="temporary", doc="temporary, visitor (a pass with the plate)")
    entry_device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"))
    exit_device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"))
    entry_at: Mapped[datetime] = mapped_column(DateTime, doc="the gate's time of the entry read")
    exit_at: Mapped[datetime | None] = mapped_column(DateTime)
    fee_cents: Mapped[int] = mapped_column(Integer, default=0)
    fee_explanation: Mapped[dict] = mapped_column(JSON, default=dict)
    pay_token: Mapped[str] = mapped_column(String(40), unique=True, doc="in the exit's QR code")
    out_trade_no: Mapped[str | None] = mapped_column(String(40), unique=True)
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime)
    overpaid_cents: Mapped[int] = mapped_column(Integer, default=0, doc="money for an already-paid ticket")
    gate_status: Mapped[str | None] = mapped_column(String(12), doc="ok, queued, failed, timeout, sending")
    gate_request_id: Mapped[str | None] = mapped_column(
        String(64), index=True, doc="the outbox row (device_command) of the gate's open, while it is not answered")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PlateEvent(Model):
    """Every plate read a gate reported, and what we did with it (``outcome``)."""

    __tablename__ = "parking_plate_event"
    __table_args__ = (Index("ix_parking_plate_event_lookup", "community_id", "plate", "direction", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"))
    plate: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(4), doc="in, out")
    confidence: Mapped[Decimal] = mapped_column(Numeric(4, 3))
    at: Mapped[datetime] = mapped_column(DateTime, doc="the gate's time")
    received_at: Mapped[datetime] = mapped_column(DateTime)
    outcome: Mapped[str] = mapped_column(String(24))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("parking_ticket.id"))
    review_id: Mapped[int | None] = mapped_column(ForeignKey("parking_review.id"))
    gate_status: Mapped[str | None] = mapped_column(String(12))
    gate_request_id: Mapped[str | None] = mapped_column(String(64), index=True)
    #: set with the new ticket of an entry, so the read needs no flush for the ticket's id
    ticket: Mapped[ParkingTicket | None] = relationship(foreign_keys=[ticket_id])


class PlateReview(Model):
    """A read the gate could not settle alone (orphan exit, low confidence, malformed plate,
    clock skew): a guard's task, with the snapshot; opening needs a reason (audited)."""

    __tablename__ = "parking_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"))
    plate: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(4))
    reason: Mapped[str] = mapped_column(String(20), doc="orphan_exit, low_confidence, malformed_plate, clock_skew, closed_entry")
    status: Mapped[str] = mapped_column(String(12), default="open", doc="open, opened, charged, kept_closed")
    snapshot: Mapped[dict | None] = mapped_column(JSON)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("parking_ticket.id"))
    instance_id: Mapped[int | None] = mapped_column(Integer)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decision_reason: Mapped[str | None] = mapped_column(String(300))
    gate_status: Mapped[str | None] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)


class ChargingSession(Model):
    """A resident's EV charging session on one charger.

    ``status``: starting (command sent), charging, finished (stopped by the resident, a full
    battery or the budget), fault (the charger reported one), silent (stopped reporting).
    ``mode``: prepaid (settled from the household's prepaid balance) or bill (pay after)."""

    __tablename__ = "charging_session"
    __table_args__ = (Index("ix_charging_session_device_status", "device_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True, doc="the session id the charger knows")
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    status: Mapped[str] = mapped_column(String(12), default="starting")
    mode: Mapped[str] = mapped_column(String(10), default="bill")
    budget_cents: Mapped[int | None] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(10, 4), doc="yuan per kWh, service fee included")
    kwh: Mapped[Decimal] = mapped_column(Numeric(10, 3), default=Decimal(0))
    fee_cents: Mapped[int] = mapped_column(Integer, default=0)
    stop_reason: Mapped[str | None] = mapped_column(String(12), doc="resident, full, budget, fault, silent")
    bill_number: Mapped[str | None] = mapped_column(String(40))
    repair_order: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_report_at: Mapped[datetime | None] = mapped_column(DateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(100))
