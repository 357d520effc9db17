"""Inputs of fee items that are not in the estate model: parking permits and one-off charges.

A billing run reads them (``app/services/fee_items.py``): an active permit is charged every
month by its item; a one-off charge (e.g. a repair charged to a household) goes on the first
bill issued for its period or later, and remembers that bill so it is never charged twice.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow


class FeePermit(Model):
    """A recurring permit a household pays for monthly (a parking space, a bike shed)."""

    __tablename__ = "fee_permit"
    __table_args__ = (Index("ix_fee_permit_community_item", "community_id", "item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    item: Mapped[str] = mapped_column(String(60), default="parking", doc="fee item id")
    reference: Mapped[str | None] = mapped_column(String(60), doc="space number or plate")
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    start_period: Mapped[str] = mapped_column(String(7), doc="first month billed, YYYY-MM")
    end_period: Mapped[str | None] = mapped_column(String(7), doc="last month billed; open if empty")


class FeeCharge(Model):
    """A one-off charge waiting for (or already on) a bill."""

    __tablename__ = "fee_charge"
    __table_args__ = (Index("ix_fee_charge_community_bill", "community_id", "bill_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    item: Mapped[str] = mapped_column(String(60), default="one_off", doc="fee item id")
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3), default=Decimal("1"))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    period: Mapped[str] = mapped_column(String(7), doc="billed on the first run for this month or later")
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bill.id"), doc="set once billed")
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
