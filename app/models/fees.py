"""Bills: what a household owes for a period, line by line, each line explained.

Amounts are integer cents (分). A bill's lines add up to ``amount_cents`` exactly;
payments and credits live in app/models/payments.py and move ``paid_cents``.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Model, utcnow


class BillingRun(Model):
    """One billing run for a community and period: preview first, then issue (once)."""

    __tablename__ = "billing_run"
    __table_args__ = (UniqueConstraint("community_id", "period", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    period: Mapped[str] = mapped_column(String(7), doc="YYYY-MM")
    kind: Mapped[str] = mapped_column(String(20), default="monthly")
    status: Mapped[str] = mapped_column(String(12), default="preview", doc="preview, running, issued, failed")
    summary: Mapped[dict] = mapped_column(JSON, default=dict)
    progress: Mapped[int] = mapped_column(Integer, default=0, doc="households done")
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class Bill(Model):
    __tablename__ = "bill"
    __table_args__ = (
        UniqueConstraint("household_id", "period", "kind"),
        Index("ix_bill_community_status_due", "community_id", "status", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True, doc="e.g. YC-202611-000123")
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    billing_run_id: Mapped[int | None] = mapped_column(ForeignKey("billing_run.id"), index=True)
    period: Mapped[str] = mapped_column(String(7))
    kind: Mapped[str] = mapped_column(String(20), default="monthly", doc="monthly, one_off, repair")
    status: Mapped[str] = mapped_column(String(16), default="open", doc="open, partially_paid, paid, cancelled")
    amount_cents: Mapped[int] = mapped_column(Integer)
    paid_cents: Mapped[int] = mapped_column(Integer, default=0)
    issued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    due_date: Mapped[date] = mapped_column(Date)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime)

    lines: Mapped[list["BillLine"]] = relationship(back_populates="bill", order_by="BillLine.id")

    @property
    def outstanding_cents(self) -> int:
        return self.amount_cents - self.paid_cents


class BillLine(Model):
    __tablename__ = "bill_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bill.id"), index=True)
    item: Mapped[str] = mapped_column(String(60), doc="fee item id, e.g. property_fee, water, late_fee")
    kind: Mapped[str] = mapped_column(String(16), default="charge", doc="charge, late_fee, adjustment")
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    amount_cents: Mapped[int] = mapped_column(Integer)
    explanation: Mapped[dict] = mapped_column(JSON, default=dict, doc="inputs, formula, rounding")

    bill: Mapped[Bill] = relationship(back_populates="lines")
