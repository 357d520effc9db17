"""Households, residents and staff."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Model
from app.models.community import Community, Unit


class Household(Model):
    """The paying party for a unit. Exemption flags matter for dunning (see DOMAIN-NOTES)."""

    __tablename__ = "household"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    head_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))
    move_in: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    elderly_alone: Mapped[bool] = mapped_column(Boolean, default=False)
    medical_exemption: Mapped[bool] = mapped_column(Boolean, default=False)
    disability_exemption: Mapped[bool] = mapped_column(Boolean, default=False)
    prepaid_balance_cents: Mapped[int] = mapped_column(Integer, default=0)

    unit: Mapped[Unit] = relationship()
    community: Mapped[Community] = relationship()
    residents: Mapped[list["Resident"]] = relationship(back_populates="household")

    def __repr__(self) -> str:
        return f"{self.code} {self.head_name}"


class Resident(Model):
    __tablename__ = "resident"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))
    relation: Mapped[str] = mapped_column(String(20), default="owner")
    card_number: Mapped[str | None] = mapped_column(String(40))
    face_ref: Mapped[str | None] = mapped_column(
        String(120), doc="Reference to the access vendor's face record; never a photo."
    )

    household: Mapped[Household] = relationship(back_populates="residents")

    def __repr__(self) -> str:
        return self.name


class StaffCommunity(Model):
    __tablename__ = "staff_community"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), primary_key=True)


class Staff(Model):
    """An employee. Roles live on the login (FAB roles); skills drive repair dispatch."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))
    job: Mapped[str] = mapped_column(String(30), doc="manager, front_desk, accountant, ...")
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))

    communities: Mapped[list[Community]] = relationship(secondary="staff_community")

    def __repr__(self) -> str:
        return self.name
