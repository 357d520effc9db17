"""Energy tables: meters (the energy role of a metering point), readings at scale, flagged
readings, monthly usage, findings, 公摊 apportionments and the public revenue ledger.

``energy_reading`` is built for hundreds of millions of rows: on PostgreSQL it is partitioned
by month on ``at`` (``PARTITION BY RANGE``), its primary key ``(meter_id, at)`` is the index
every per-meter range query uses, and the partitions live in the schema
``energy_partitions`` (created ahead by ``partitions.ensure_partitions``; a DEFAULT partition
catches anything outside them). On SQLite the same table is a plain table. Only billable
(``good``) readings go there; flagged ones (out of range, backwards, stuck) go to
``energy_flagged_reading`` with the reason, so no sum over readings can bill them by mistake.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    DDL,
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
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow

PARTITION_SCHEMA = "energy_partitions"

KINDS = ("water", "electricity")
ROLES = ("household", "public", "master", "lighting")


class EnergyMeter(Model):
    """A metering point: a household's meter, a public meter (stairwell lights, pumps), a
    building's master meter (its sub-meters name it in ``master_id``) or a public lighting
    circuit. ``device_id`` links an IoT meter; handheld meters have none."""

    __tablename__ = "energy_meter"
    __table_args__ = (UniqueConstraint("community_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), doc="water or electricity")
    role: Mapped[str] = mapped_column(String(20), doc="household, public, master or lighting")
    unit: Mapped[str] = mapped_column(String(20), doc="m3 or kWh")
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"), unique=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    master_id: Mapped[int | None] = mapped_column(ForeignKey("energy_meter.id"))
    handheld: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class EnergyReading(Model):
    """A billable (good) reading. Partitioned by month on PostgreSQL (see module docstring)."""

    __tablename__ = "energy_reading"
    __table_args__ = ({"postgresql_partition_by": "RANGE (at)"},)

    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    value: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    quality: Mapped[str] = mapped_column(String(16), default="good")
    source: Mapped[str] = mapped_column(String(10), default="iot", doc="iot or handheld")


# create_all on PostgreSQL (the tests) gets a DEFAULT partition so inserts work; the migration
# creates the same plus the monthly partitions.
event.listen(EnergyReading.__table__, "after_create", DDL(
    f"CREATE SCHEMA IF NOT EXISTS {PARTITION_SCHEMA}; "
    f"CREATE TABLE IF NOT EXISTS {PARTITION_SCHEMA}.energy_reading_default "
    "PARTITION OF energy_reading DEFAULT").execute_if(dialect="postgresql"))


class EnergyFlaggedReading(Model):
    """A reading that must not be billed: out of range, backwards, stuck (with the reason)."""

    __tablename__ = "energy_flagged_reading"
    __table_args__ = (Index("ix_energy_flagged_meter_at", "meter_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("energy_meter.id"))
    at: Mapped[datetime] = mapped_column(DateTime)
    value: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    quality: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(10), default="iot")


class EnergyMonthlyUsage(Model):
    """A meter's consumption in one month, derived once from its good readings."""

    __tablename__ = "energy_monthly_usage"
    __table_args__ = (UniqueConstraint("meter_id", "period"),
                      Index("ix_energy_monthly_community_period", "community_id", "period"))

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    meter_id: Mapped[int] = mapped_column(ForeignKey("energy_meter.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    period: Mapped[str] = mapped_column(String(7))
    start_value: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    end_value: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    usage: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    readings: Mapped[int] = mapped_column(Integer, default=0)
    derived_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class EnergyDailyUsage(Model):
    """A meter's consumption on one local day, derived from its good readings: the nightly run
    derives only the days since its last complete one, and a month is the sum of its days.

    ``usage`` counts the increases between consecutive good readings whose later reading falls on
    the day (from the last reading before it; a ``replaced`` reading restarts the count), so the
    days of a month add up to exactly the month's usage; ``day_use`` (max − min of the day's
    readings) is the detection's daily history."""

    __tablename__ = "energy_daily_usage"
    __table_args__ = (Index("ix_energy_daily_community_day", "community_id", "day"),)

    meter_id: Mapped[int] = mapped_column(ForeignKey("energy_meter.id"), primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    start_value: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    end_value: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    usage: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    day_use: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    readings: Mapped[int] = mapped_column(Integer, default=0)
    derived_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class EnergyDerivation(Model):
    """How far a community's days are derived: every local day up to ``complete_through`` was
    derived after it ended (a day without readings has no daily rows, so the rows cannot say)."""

    __tablename__ = "energy_derivation"

    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), primary_key=True, autoincrement=False)
    complete_through: Mapped[date] = mapped_column(Date)
    derived_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class EnergyFinding(Model):
    """Something wrong in the readings: a leak, a spike, a silent or stuck meter, a building
    losing water between its master meter and its sub-meters, lights on in daylight, or
    sub-meters above the master (a negative 公摊 remainder). One open finding per ``key``."""

    __tablename__ = "energy_finding"
    __table_args__ = (Index("ix_energy_finding_community_status", "community_id", "status"),
                      Index("ix_energy_finding_key_status", "key", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    meter_id: Mapped[int | None] = mapped_column(ForeignKey("energy_meter.id"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    kind: Mapped[str] = mapped_column(String(30))
    key: Mapped[str] = mapped_column(String(120), doc="deduplication key: kind and meter/building")
    status: Mapped[str] = mapped_column(String(10), default="open")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    opened_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    close_reason: Mapped[str | None] = mapped_column(String(200))
    work_order: Mapped[str | None] = mapped_column(String(40), doc="repair order number, if any")
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("wf_instance.id"))


class EnergyApportionment(Model):
    """One period's 公摊 of a kind of shared consumption, for a community or one building."""

    __tablename__ = "energy_apportionment"
    __table_args__ = (UniqueConstraint("community_id", "period", "kind", "scope_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    period: Mapped[str] = mapped_column(String(7))
    kind: Mapped[str] = mapped_column(String(20))
    scope_key: Mapped[str] = mapped_column(String(60), doc="'community' or 'building:<code>'")
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    method: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 4), doc="shared consumption (m3/kWh)")
    price: Mapped[Decimal] = mapped_column(Numeric(12, 4), doc="yuan per m3/kWh")
    total_cents: Mapped[int] = mapped_column(Integer)
    households: Mapped[int] = mapped_column(Integer)
    inputs: Mapped[dict] = mapped_column(JSON, default=dict, doc="the meters and readings behind the total")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class EnergyShare(Model):
    """A household's share of an apportionment, with its basis and rounding."""

    __tablename__ = "energy_share"
    __table_args__ = (UniqueConstraint("apportionment_id", "household_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    apportionment_id: Mapped[int] = mapped_column(ForeignKey("energy_apportionment.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    household_code: Mapped[str] = mapped_column(String(40))
    basis: Mapped[Decimal] = mapped_column(Numeric(18, 4), doc="m2, 1 per household, or own usage")
    floor_cents: Mapped[int] = mapped_column(Integer)
    extra_cent: Mapped[int] = mapped_column(Integer, doc="1 when the largest remainder gave it one more cent")
    share_cents: Mapped[int] = mapped_column(Integer)


class PublicRevenueEntry(Model):
    """A public revenue (公共收益) ledger entry: income or expense of the common property.
    Never edited once its month is published: a correcting entry (``corrects_id``) instead."""

    __tablename__ = "public_revenue_entry"
    __table_args__ = (Index("ix_public_revenue_community_period", "community_id", "period"),
                      UniqueConstraint("community_id", "source_ref"))

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    period: Mapped[str] = mapped_column(String(7))
    direction: Mapped[str] = mapped_column(String(10), doc="income or expense")
    category: Mapped[str] = mapped_column(String(30))
    amount_cents: Mapped[int] = mapped_column(Integer, doc="positive; a correction may be negative")
    description: Mapped[str] = mapped_column(String(300))
    evidence: Mapped[list] = mapped_column(JSON, default=list, doc="upload refs")
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("public_revenue_entry.id"))
    source: Mapped[str] = mapped_column(String(30), default="manual")
    source_ref: Mapped[str | None] = mapped_column(String(80), doc="idempotency key of a posting module")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PublicRevenueDisclosure(Model):
    """A published month of the public revenue ledger (公示): the figures as published."""

    __tablename__ = "public_revenue_disclosure"
    __table_args__ = (UniqueConstraint("community_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    period: Mapped[str] = mapped_column(String(7))
    income_cents: Mapped[int] = mapped_column(Integer)
    expense_cents: Mapped[int] = mapped_column(Integer)
    owners_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    owners_cents: Mapped[int] = mapped_column(Integer)
    company_cents: Mapped[int] = mapped_column(Integer)
    published_by: Mapped[str] = mapped_column(String(100))
    published_at: Mapped[datetime] = mapped_column(DateTime)


class EnergyMeasure(Model):
    """A saving measure on a meter (e.g. LED retrofit of the stairwell lights on a date);
    its before/after saving is computed from the readings (``measures.saving``)."""

    __tablename__ = "energy_measure"
    __table_args__ = (Index("ix_energy_measure_community", "community_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    meter_id: Mapped[int] = mapped_column(ForeignKey("energy_meter.id"))
    name: Mapped[str] = mapped_column(String(200))
    done_on: Mapped[datetime] = mapped_column(DateTime, doc="local midnight of the day it was done, stored as UTC")
    days: Mapped[int] = mapped_column(Integer, default=30, doc="days compared on either side")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
