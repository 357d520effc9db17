"""Inspection tables: points (with their QR code), routes (ordered points and a schedule),
runs (one patrol of a route, one engine process), check-ins (one per point per run, with the
checklist's answers), findings (a failed item or a regulator's finding, each with its
rectification process) and the regulator's spot checks.

A check-in keeps ``items_checked`` and ``items_failed`` beside its answers so the compliance
status and the monthly report are plain aggregates (see ``compliance.py``).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Model


class InspectionPoint(Model):
    """A place a patrol checks: a hydrant, an extinguisher cabinet, a fire lane, a lift room…"""

    __tablename__ = "inspection_point"
    __table_args__ = (UniqueConstraint("community_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    community = relationship("Community")
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    building = relationship("Building")
    code: Mapped[str] = mapped_column(String(40), doc="printed on the label; the QR code carries it")
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(30), doc="see points.KINDS")
    location: Mapped[str] = mapped_column(String(200), default="")
    checklist: Mapped[str] = mapped_column(String(60), doc="a checklist id (forms/inspection/checklists/<id>.yaml)")
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"))
    device = relationship("Device")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return f"{self.code} {self.name}"


class InspectionRoute(Model):
    """Ordered points walked on a schedule (daily, weekly or monthly, in a shift)."""

    __tablename__ = "inspection_route"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    community = relationship("Community")
    name: Mapped[str] = mapped_column(String(120))
    point_codes: Mapped[str] = mapped_column(String(2000), doc="point codes in walking order, space separated")
    frequency: Mapped[str] = mapped_column(String(10), default="daily", doc="daily, weekly or monthly")
    shift: Mapped[str] = mapped_column(String(10), default="day", doc="day or night")
    start_time: Mapped[str] = mapped_column(String(5), default="09:00", doc="local HH:MM")
    weekday: Mapped[int | None] = mapped_column(Integer, doc="weekly: 1 = Monday … 7 = Sunday")
    month_day: Mapped[int | None] = mapped_column(Integer, doc="monthly: day of the month (1-28)")
    role: Mapped[str] = mapped_column(String(20), default="guard", doc="guard or technician")
    assignee: Mapped[str | None] = mapped_column(String(100), doc="a username, else anyone of the role")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return self.name


class InspectionRun(Model):
    """One patrol of a route. Open until every point is checked or someone closes it."""

    __tablename__ = "inspection_run"
    __table_args__ = (UniqueConstraint("route_id", "planned_at"),
                      Index("ix_inspection_run_community_planned", "community_id", "planned_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    route_id: Mapped[int] = mapped_column(ForeignKey("inspection_route.id"), index=True)
    point_ids: Mapped[list] = mapped_column(JSON, doc="the route's points in order, when the run started")
    planned_at: Mapped[datetime] = mapped_column(DateTime)
    due_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20), default="open", doc="open, completed, closed")
    started_by: Mapped[str] = mapped_column(String(100))
    instance_id: Mapped[int | None] = mapped_column(Integer)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    missed_point_ids: Mapped[list | None] = mapped_column(JSON)
    out_of_order: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_by: Mapped[str | None] = mapped_column(String(100))


class InspectionCheckIn(Model):
    """A point checked in a run: when (the phone's time), by whom, the answers."""

    __tablename__ = "inspection_checkin"
    __table_args__ = (UniqueConstraint("run_id", "point_id"),
                      Index("ix_inspection_checkin_community_at", "community_id", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("inspection_run.id"))
    point_id: Mapped[int] = mapped_column(ForeignKey("inspection_point.id"))
    at: Mapped[datetime] = mapped_column(DateTime, doc="when the point was checked (the phone's time)")
    received_at: Mapped[datetime] = mapped_column(DateTime)
    by: Mapped[str] = mapped_column(String(100))
    sequence: Mapped[int] = mapped_column(Integer, doc="1 = the first point checked in this run")
    in_order: Mapped[bool] = mapped_column(Boolean, default=True)
    answers: Mapped[dict] = mapped_column(JSON)
    items_checked: Mapped[int] = mapped_column(Integer, default=0)
    items_failed: Mapped[int] = mapped_column(Integer, default=0)


class InspectionSpotCheck(Model):
    """A regulator's spot check (抽查) of a community."""

    __tablename__ = "inspection_spot_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime)
    note: Mapped[str] = mapped_column(String(1000), default="")


class InspectionFinding(Model):
    """A problem to rectify (整改): a failed checklist item or a regulator's finding."""

    __tablename__ = "inspection_finding"
    __table_args__ = (Index("ix_inspection_finding_community_opened", "community_id", "opened_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    source: Mapped[str] = mapped_column(String(20), doc="patrol or spot_check")
    checkin_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_checkin.id"))
    spot_check_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_spot_check.id"))
    point_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_point.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"))
    item: Mapped[str] = mapped_column(String(60), doc="the checklist item's name (or 'spot_check')")
    description: Mapped[str] = mapped_column(String(1000))
    clause: Mapped[str] = mapped_column(String(300), default="")
    severity: Mapped[str] = mapped_column(String(10), doc="low, medium or high")
    role: Mapped[str] = mapped_column(String(20), doc="the responsible role")
    status: Mapped[str] = mapped_column(String(20), default="open",
                                        doc="open, rectified (waiting for acceptance), accepted")
    opened_at: Mapped[datetime] = mapped_column(DateTime)
    deadline_at: Mapped[datetime] = mapped_column(DateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime)
    before_photos: Mapped[list | None] = mapped_column(JSON)
    after_photos: Mapped[list | None] = mapped_column(JSON)
    rectify_note: Mapped[str | None] = mapped_column(String(1000))
    rectified_at: Mapped[datetime | None] = mapped_column(DateTime)
    rectified_by: Mapped[str | None] = mapped_column(String(100))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime)
    accepted_by: Mapped[str | None] = mapped_column(String(100))
    instance_id: Mapped[int | None] = mapped_column(Integer)


class InspectionPlan(Model):
    """The month's self-inspection plan (自查计划) of a community, issued at the month's start
    from its routes' schedules and the checklists they use: which points are due on which days.
    Kept as issued (``lines``), so a route changed mid-month does not rewrite the plan; what was
    done and missed is read against it (``plans.plan_status``)."""

    __tablename__ = "inspection_plan"
    __table_args__ = (UniqueConstraint("community_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    period: Mapped[str] = mapped_column(String(7), doc="local month YYYY-MM")
    generated_at: Mapped[datetime] = mapped_column(DateTime)
    generated_by: Mapped[str] = mapped_column(String(100))
    lines: Mapped[list] = mapped_column(JSON, doc="per route: dates due and points with their checklist")
