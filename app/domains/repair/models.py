"""Repair work orders (报事报修): the order, its status timeline and its dispatch history.

The process (``bpmn/repair/repair.bpmn``) moves an order; these rows are what people see
and what the KPIs read. SLA timestamps are kept on the order itself so response and
resolution times are one subtraction away. Money is integer cents.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Model, utcnow

#: Order statuses, in the order an order normally moves through them.
STATUSES = ("reported", "unassigned", "dispatched", "accepted", "on_site", "completed",
            "confirmed", "closed", "cancelled")
#: Statuses in which a technician still has work to do (their open load).
OPEN_STATUSES = ("dispatched", "accepted", "on_site")
#: Statuses in which the order is still alive (not closed or cancelled).
ACTIVE_STATUSES = ("reported", "unassigned", "dispatched", "accepted", "on_site", "completed")


class RepairOrder(Model):
    __tablename__ = "repair_order"
    __table_args__ = (
        Index("ix_repair_order_community_status", "community_id", "status"),
        Index("ix_repair_order_technician_status", "technician_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True, doc="e.g. YC-R-20261125-0001")
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True,
                                                     doc="None for a common area")
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    category: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    photos: Mapped[list] = mapped_column(JSON, default=list, doc="upload refs {sha256, name, size, content_type}")
    location_kind: Mapped[str] = mapped_column(String(30), doc="unit, building_common, community_common")
    location_note: Mapped[str | None] = mapped_column(String(200))
    preferred_time: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="reported")
    reported_by: Mapped[str | None] = mapped_column(String(100), doc="login name of the reporter")
    submission_token: Mapped[str | None] = mapped_column(String(64), unique=True,
                                                         doc="one per report form: a double submit is refused")
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("wf_instance.id"))

    technician_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    technician_username: Mapped[str | None] = mapped_column(String(100))
    dispatch_attempts: Mapped[int] = mapped_column(Integer, default=0)
    declined_staff_ids: Mapped[list] = mapped_column(JSON, default=list)

    before_photos: Mapped[list] = mapped_column(JSON, default=list)
    after_photos: Mapped[list] = mapped_column(JSON, default=list)
    work_note: Mapped[str | None] = mapped_column(Text)
    materials: Mapped[str | None] = mapped_column(Text, doc="what was used, as the technician wrote it")
    materials_cost_cents: Mapped[int] = mapped_column(Integer, default=0)
    labour_cost_cents: Mapped[int] = mapped_column(Integer, default=0)
    charge_cents: Mapped[int] = mapped_column(Integer, default=0, doc="charged to the household")
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bill.id"))
    quote_status: Mapped[str | None] = mapped_column(
        String(12), doc="the resident's answer to the charge: pending, accepted, declined; None if nothing to charge")
    quote_decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    quote_note: Mapped[str | None] = mapped_column(String(300), doc="why the resident declined the quote")

    rating: Mapped[int | None] = mapped_column(Integer, doc="1-5")
    rating_comment: Mapped[str | None] = mapped_column(Text)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    escalation_level: Mapped[str | None] = mapped_column(String(20), doc="reminded, manager, company")
    revisit: Mapped[bool] = mapped_column(Boolean, default=False, doc="picked for a front-desk call-back")

    reported_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(DateTime)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    response_due_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolution_due_at: Mapped[datetime | None] = mapped_column(DateTime)

    events: Mapped[list["RepairEvent"]] = relationship(back_populates="order", order_by="RepairEvent.id")

    def __repr__(self) -> str:
        return self.number


class RepairEvent(Model):
    """One line of an order's status timeline (what the resident and staff see)."""

    __tablename__ = "repair_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("repair_order.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    status: Mapped[str | None] = mapped_column(String(20), doc="the order status after the event")
    actor: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    order: Mapped[RepairOrder] = relationship(back_populates="events")


class RepairDispatch(Model):
    """Each time an order is offered to a technician (automatically or by hand), and how it ended."""

    __tablename__ = "repair_dispatch"
    __table_args__ = (Index("ix_repair_dispatch_staff_at", "staff_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("repair_order.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    mode: Mapped[str] = mapped_column(String(10), doc="auto or manual")
    outcome: Mapped[str] = mapped_column(String(12), default="offered",
                                         doc="offered, accepted, declined, reassigned")
    distance_m: Mapped[int | None] = mapped_column(Integer)
    open_load: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(500))
    actor: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
