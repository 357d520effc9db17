"""The audit trail: who did what to which record, with before and after."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    Numeric,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow


class AuditEvent(Model):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_community_at", "community_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(80))
    target_type: Mapped[str] = mapped_column(String(60))
    target_id: Mapped[str | None] = mapped_column(String(80))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class UploadGrant(Model):
    """A stored file (by sha256) became part of a record in this community.

    ``audience`` says who of the community may read it: ``community`` (its staff, and residents
    of ``household_id`` when set), ``security`` (security staff only: camera snapshots, hydrant
    charts). Residents read only files of their own household's records (``household_id``).
    """

    __tablename__ = "upload_grant"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(80))
    granted_by: Mapped[str | None] = mapped_column(String(100))
    granted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    audience: Mapped[str] = mapped_column(String(20), default="community", server_default="community")
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"))


class UploadReceipt(Model):
    """A user stored this file while filling in one form or task (``scope``), at ``uploaded_at``.

    Only such a receipt (recent, same user, same scope) lets a submission *keep* a file it did not
    send in the same request; files never granted are swept after a grace period.
    """

    __tablename__ = "upload_receipt"
    __table_args__ = (Index("ix_upload_receipt_user_scope", "user_id", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    scope: Mapped[str] = mapped_column(String(120))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class UserPreference(Model):
    __tablename__ = "user_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), primary_key=True)
    locale: Mapped[str] = mapped_column(String(5), default="zh")
    elderly_mode: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(),
                                               doc="large text, high contrast, fewer items")


class EnteredFigure(Model):
    """An outcome figure a manager typed in for a period the platform did not measure (the
    "before" of a renovation: last year's paper ledger), with its source. The audit pack shows
    it marked as entered, never as measured."""

    __tablename__ = "kpi_entered_figure"
    __table_args__ = (UniqueConstraint("community_id", "outcome", "period_from", "period_to"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(40), doc="fee_collection, repair_response, public_energy, staff_efficiency")
    period_from: Mapped[str] = mapped_column(String(7), doc="YYYY-MM")
    period_to: Mapped[str] = mapped_column(String(7), doc="YYYY-MM")
    value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    source: Mapped[str] = mapped_column(String(300))
    entered_by: Mapped[str] = mapped_column(String(100))
    entered_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class KpiRollup(Model):
    """One dashboard figure's inputs for one community and local month, computed ahead by the
    ``kpi_rollup`` flow so the company level does not scan every bill, order and event
    (bench/dashboard.py). ``n``/``a``/``b`` are sums, ``samples`` the sorted values a median
    or p90 needs (int32, e.g. deciseconds), ``members`` those of a distinct count (int64: device ids,
    hashes of staff-days), both packed so 200 communities' rows decode in microseconds. The
    row of month ``*`` marks a refresh: ``members`` = the months it covered (``YYYYMM``),
    ``refreshed_at`` when (the page says how fresh the figure is)."""

    __tablename__ = "kpi_rollup"

    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), primary_key=True)
    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True, doc="YYYY-MM, or * for the refresh marker")
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    a: Mapped[int] = mapped_column(BigInteger, default=0)
    b: Mapped[int] = mapped_column(BigInteger, default=0)
    samples: Mapped[bytes] = mapped_column(LargeBinary, default=b"", doc="sorted int32, little-endian")
    members: Mapped[bytes] = mapped_column(LargeBinary, default=b"", doc="sorted int64, little-endian")
    refreshed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
